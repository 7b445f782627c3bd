"""``prepare_dataset``: a ready dataset root, real (validated) or synthetic (generated, cached).

Synthetic datasets are generated once per (name, profile, seed, spec, generator version) into
``<cache_dir>/<name>-<profile>-seed<seed>-<hash>``: the generation writes into a private staging
folder and renames it into place when complete, so concurrent runs (a batch of trainings started
together) never see half a dataset; the loser of a race discards its copy (the content is
identical: generation is deterministic).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import uuid
from pathlib import Path

from ..evaluation.localize import InferenceConfig
from ..paths import default_cache_dir
from .annotations import GT_JSON, read_gt_json, read_split
from .features import split_path, validate_split
from .knobs import SyntheticKnobs
from .spec import DatasetSpec, get_spec
from .synthetic import GENERATOR_VERSION, generate_synthetic, remove_tree


def dataset_key(spec: DatasetSpec, seed: int) -> str:
    """Folder name of a synthetic dataset: readable prefix + hash of everything that matters."""
    blob = json.dumps(
        {"spec": spec.to_dict(), "seed": seed, "version": GENERATOR_VERSION}, sort_keys=True
    )
    digest = hashlib.sha256(blob.encode()).hexdigest()[:10]
    return f"{spec.name}-{spec.profile}-seed{seed}-{digest}"


def is_complete(root: str | os.PathLike) -> bool:
    """A generated root is complete when its ``meta.json`` says so (it is written last)."""
    meta = Path(root) / "meta.json"
    if not meta.is_file():
        return False
    try:
        return bool(json.loads(meta.read_text(encoding="utf-8")).get("complete"))
    except (OSError, json.JSONDecodeError):
        return False


def validate_root(root: str | os.PathLike, spec: DatasetSpec, full: bool = False) -> dict:
    """Check a real-layout root: ``gt.json``, both split files, every feature file's header.

    Returns ``{split: {video_id: n_snippets}}``; ``full=True`` also scans values for NaN/inf.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{spec.name} data folder not found: {root}")
    db = read_gt_json(root / GT_JSON)
    out = {}
    for split in ("train", "test"):
        ids = read_split(split_path(root, split))
        missing = [v for v in ids if v not in db]
        if missing:
            raise ValueError(f"{split_path(root, split)}: {missing[0]!r} not in {root / GT_JSON}")
        out[split] = validate_split(root, split, ids, spec.feature_dim, full=full)
    return out


def prepare_dataset(
    name: str,
    profile: str = "quick",
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    spec: DatasetSpec | None = None,
    generate: bool = True,
) -> Path | None:
    """Return the root of a ready dataset.

    Parameters
    ----------
    name, profile : str
        A named spec (:func:`ftcl.data.get_spec`).
    data_dir : path, optional
        Real datasets: the folder with the features (required); it is validated and returned.
    seed : int
        Synthetic datasets: generation seed.
    cache_dir : path, optional
        Synthetic datasets: where generated datasets live (default :func:`default_cache_dir`).
    spec : DatasetSpec, optional
        Use this spec instead of ``get_spec(name, profile)`` (e.g. with changed knobs).
    generate : bool
        False: do not generate a synthetic dataset that is not there yet, only check that the
        cache folder could take it, and return None (``ftcl reproduce --dry-run``).

    A cache folder that cannot be created or written (read-only, not a folder) is refused
    before anything is generated (``ValueError`` naming it); a write that fails while
    generating (a full disk) is a :class:`ftcl.io.WriteError` naming the file.
    """
    spec = spec if spec is not None else get_spec(name, profile)
    if not spec.synthetic:
        if data_dir is None:
            raise ValueError(
                f"{spec.name} uses real features: pass data_dir (a folder with gt.json, "
                "split_train.txt, split_test.txt, train/ and test/)"
            )
        validate_root(data_dir, spec)
        return Path(data_dir)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = cache / dataset_key(spec, seed)
    if is_complete(root):
        return root
    _check_cache_folder(cache, f"{spec.name} (seed {seed})")
    if not generate:
        return None
    staging = cache / f".{root.name}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        generate_synthetic(spec, staging, seed=seed)
        if root.exists() and not is_complete(root):
            remove_tree(root)  # left over from an interrupted run of an older version
        try:
            os.replace(staging, root)
        except OSError:
            if not is_complete(root):  # lost a race to an incomplete folder: should not happen
                raise
    finally:
        remove_tree(staging)
    return root


def _check_cache_folder(cache: Path, what: str) -> None:
    """Raise ``ValueError`` naming ``cache`` if synthetic data cannot be generated into it."""
    hint = "pass a writable --cache-dir (or set FTCL_CACHE)"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"synthetic data cache {cache}: cannot create it to generate {what} "
                         f"({exc.strerror or exc}); {hint}") from None
    if not os.access(cache, os.W_OK | os.X_OK):
        raise ValueError(f"synthetic data cache {cache}: not writable (a read-only folder?), and "
                         f"{what} is not generated there yet; {hint}")


def spec_from_meta(root: str | os.PathLike) -> DatasetSpec:
    """The spec a generated root was made with (from its ``meta.json``)."""
    meta = json.loads((Path(root) / "meta.json").read_text(encoding="utf-8"))
    d = dict(meta["spec"])
    d["classes"] = tuple(d["classes"])
    d["tiou_thresholds"] = tuple(d["tiou_thresholds"])
    d["map_average_range"] = tuple(d["map_average_range"])
    d["inference"] = InferenceConfig(**d["inference"])
    d["knobs"] = SyntheticKnobs(**d["knobs"]) if d.get("knobs") else None
    fields = {f.name for f in dataclasses.fields(DatasetSpec)}
    return DatasetSpec(**{k: v for k, v in d.items() if k in fields})
