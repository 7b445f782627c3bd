"""Published numbers the reproduced Tables 1-5 are compared with, as data, each with its source.

Every number here was read in the source named next to it; none is typed from memory. A row says
where it was read (``url`` and ``location``: table and row name, or file and commit), what kind of
number it is (``kind``), and on what data it was measured (the paper's real I3D features, one run).

Two kinds of reference rows:

``"ftcl-paper"``
    A row of Tables 1-5 of the FTCL paper (Gao, Chen, Xu, CVPR 2022, arXiv 2203.16800).
``"backbone-paper"``
    A backbone's number from that backbone's own publication, as quoted in a named public file.
    It is *not* the FTCL paper's row for that backbone (which may be a re-run), and is labelled so.

The FTCL paper's own table rows could not be read in the sources available to this project: the
stored copies of arXiv 2203.16800 (ar5iv HTML, SPIQA LaTeX) expose only their opening section to
search, and the authors' README (MengyuanChen21/CVPR2022-FTCL) has no results table. Those rows
are listed in :data:`MISSING` rather than filled in; add them to :data:`PAPER_ROWS` (with their
table and row name) once read from the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FTCL_PAPER = ("Gao, Chen, Xu. Fine-grained Temporal Contrastive Learning for Weakly-supervised "
              "Temporal Action Localization. CVPR 2022 (arXiv 2203.16800)")
FTCL_PAPER_URL = "https://arxiv.org/abs/2203.16800"

KINDS = ("ftcl-paper", "backbone-paper")


@dataclass(frozen=True)
class PaperRow:
    """One published row: mAP (%) per tIoU threshold and/or its average, with its source.

    Attributes
    ----------
    table : str
        ``"table1"`` ... ``"table5"``: the reproduced table the row belongs to.
    method : str
        The :data:`ftcl.config.METHODS` key the row is compared with.
    dataset : str
        ``"thumos14"`` or ``"activitynet13"`` (real I3D features).
    label : str
        Row label shown in the table (who published the number, how it reached us).
    kind : str
        ``"ftcl-paper"`` or ``"backbone-paper"`` (see the module docstring).
    url, location : str
        Where the number was read: address, and table/row or file/commit/section.
    map : dict of float to float
        mAP in % at each published tIoU threshold (may be empty when only the average is known).
    average : float or None
        Published average mAP in % over ``average_range``.
    average_range : tuple of float
        Inclusive tIoU range of ``average``.
    note : str
        Anything a reader needs to interpret the row.
    """

    table: str
    method: str
    dataset: str
    label: str
    kind: str
    url: str
    location: str
    map: dict[float, float] = field(default_factory=dict)
    average: float | None = None
    average_range: tuple[float, float] = (0.1, 0.7)
    note: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"PaperRow {self.table}/{self.method}: kind must be one of {KINDS}")
        if not self.map and self.average is None:
            raise ValueError(f"PaperRow {self.table}/{self.method}: no number given")
        values = list(self.map.values()) + ([self.average] if self.average is not None else [])
        if any(not 0.0 <= v <= 100.0 for v in values):
            raise ValueError(f"PaperRow {self.table}/{self.method}: mAP must be in % [0, 100]")


_FTCL_README = ("https://github.com/MengyuanChen21/CVPR2022-FTCL/blob/"
                "f9136cb03d155eb65504f0f5fa01997777b36f4f/README.md")
_ACMNET_QUOTE = dict(
    method="acmnet",
    dataset="thumos14",
    label="ACM-Net paper (Qu et al. 2021), as quoted in the FTCL README; real THUMOS14 I3D "
          "features, single run",
    kind="backbone-paper",
    url=_FTCL_README,
    location="README.md at commit f9136cb, section 'Training': 'ACM-Net can achieve the result "
             "(42.6% mAP@Avg) reported in its paper'",
    average=42.6,
    average_range=(0.1, 0.7),
    note="Only the average is quoted. The README does not state its range; the ACM-Net authors "
         "report THUMOS14 averages over tIoU 0.1-0.7 (ispc-lab/ACM-Net issue #5).",
)

_COLA_README = "https://github.com/zhang-can/CoLA"

PAPER_ROWS: tuple[PaperRow, ...] = (
    PaperRow(table="table1", **_ACMNET_QUOTE),
    PaperRow(table="table3", **_ACMNET_QUOTE),
    PaperRow(table="table5", **_ACMNET_QUOTE),
    PaperRow(
        table="table5",
        method="cola",
        dataset="thumos14",
        label="CoLA paper (Zhang et al. 2021), as listed in the CoLA README; real THUMOS14 I3D "
              "features, single run",
        kind="backbone-paper",
        url=_COLA_README,
        location="README.md (main branch), 'Updates [21 July 2021]', row 'original paper'",
        map={0.1: 66.2, 0.2: 59.5, 0.3: 51.5, 0.4: 41.9, 0.5: 32.2, 0.6: 22.0, 0.7: 13.1},
        average=40.9,
        average_range=(0.1, 0.7),
        note="CoLA's own published numbers, not the FTCL paper's Table 5 row for CoLA.",
    ),
)

_NOT_READ = ("not readable in the sources searched: the stored copies of arXiv 2203.16800 expose "
             "only their opening section, and the authors' README has no results table")

# (table, method, row name in the paper) of every FTCL-paper row we reproduce but could not read.
MISSING: tuple[tuple[str, str, str, str], ...] = tuple(
    (table, method, row, _NOT_READ) for table, method, row in (
        ("table1", "acmnet", "ACM-Net"),
        ("table1", "ftcl", "FTCL (Ours)"),
        ("table2", "acmnet", "ACM-Net"),
        ("table2", "ftcl", "FTCL (Ours)"),
        ("table3", "acmnet", "Baseline"),
        ("table3", "ftcl-wo-fsd", "w/o FSD"),
        ("table3", "ftcl-wo-lcs", "w/o LCS"),
        ("table3", "ftcl-both-fsd", "FSD for both"),
        ("table3", "ftcl-both-lcs", "LCS for both"),
        ("table3", "ftcl", "FTCL"),
        ("table4", "ftcl-dtw", "DTW"),
        ("table4", "ftcl-ccdtw", "CC-DTW"),
        ("table4", "ftcl-dropdtw", "Drop-DTW"),
        ("table4", "ftcl", "FSD + LCS"),
        ("table5", "stpn", "STPN"),
        ("table5", "stpn-ftcl", "STPN + FTCL"),
        ("table5", "wtalc", "W-TALC"),
        ("table5", "wtalc-ftcl", "W-TALC + FTCL"),
        ("table5", "cola", "CoLA"),
        ("table5", "cola-ftcl", "CoLA + FTCL"),
        ("table5", "acmnet", "ACM-Net"),
        ("table5", "ftcl", "ACM-Net + FTCL"),
    )
)


def reference_rows(table: str, method: str | None = None) -> list[PaperRow]:
    """The published rows of ``table`` (``"table1"`` ...), optionally of one ``method`` only."""
    return [r for r in PAPER_ROWS
            if r.table == table and (method is None or r.method == method)]


def missing_rows(table: str) -> list[tuple[str, str, str, str]]:
    """``(table, method, paper row name, why)`` of the FTCL-paper rows of ``table`` not found."""
    return [m for m in MISSING if m[0] == table]


__all__ = ["FTCL_PAPER", "FTCL_PAPER_URL", "KINDS", "MISSING", "PAPER_ROWS", "PaperRow",
           "missing_rows", "reference_rows"]
