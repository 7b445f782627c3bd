"""How pure are the FTCL proposals of a trained model? Measured against the planted labels.

On a dataset with planted snippet labels (the synthetic data,
:func:`ftcl.data.synthetic.load_snippet_labels`), :func:`proposal_purity` gives the share of
*action* snippets in the action and background proposals of Sec. 3.2, for both background
selections (``"paper"``: lowest attention; ``"release"``: attention ranks
``fsd_len .. 2 fsd_len - 1``), beside the share of action snippets among all snippets (what a
random pick would give). The limitations chapter reports it for the last checkpoints.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..data.synthetic import REGION_ACTION, SNIPPET_LABEL_COLUMNS, load_snippet_labels
from ..evaluation import eval_batches
from ..losses.contrast import proposal_indices


@torch.no_grad()
def proposal_purity(model: torch.nn.Module, dataset, fsd_len: int,
                    video_ids: list[str] | None = None, root=None,
                    backgrounds: tuple[str, ...] = ("paper", "release"),
                    batch_size: int = 32) -> dict[str, Any]:
    """Share of action snippets in the FTCL proposals of ``model`` on ``dataset``'s videos.

    For each video (sampled as ``dataset`` samples it; the test split samples uniformly) the
    attention picks the action proposal (top ``fsd_len``) and the background proposal of each
    selection in ``backgrounds``; each picked snippet is looked up in the planted snippet labels
    (column ``region`` of :data:`ftcl.data.synthetic.SNIPPET_LABEL_COLUMNS`, ``REGION_ACTION``).
    ``root``: the dataset folder (default ``dataset.root``).

    Returns ``{"action": share, "background/paper": share, "background/release": share,
    "all_snippets": share, "videos": n, "snippets_per_proposal": fsd_len}``; shares are fractions
    over all picked snippets of all videos; ``all_snippets`` is the share of action snippets among
    all sampled snippets (what a random pick would give). For ACM-Net also
    ``"background/acmnet-branch"``: the top ``fsd_len`` snippets of its background attention branch
    (a diagnostic; not a selection the loss offers). The model is put in eval mode for the
    forward pass and restored (:func:`ftcl.evaluation.eval_batches`).
    """
    root = dataset.root if root is None else root
    ids = list(dataset.video_ids) if video_ids is None else list(video_ids)
    region_col = SNIPPET_LABEL_COLUMNS.index("region")
    hits = {"action": 0, **{f"background/{b}": 0 for b in backgrounds}}
    total, all_action, all_count = 0, 0, 0
    for indices, items, out in eval_batches(model, dataset, ids, batch_size):
        attention = out.attention.float().cpu()
        branches = out.extras.get("branch_attention")  # ACM-Net: [B, T, 3]
        regions = np.stack([load_snippet_labels(root, dataset.split, dataset.video_ids[i])
                            [:, region_col][it["sample_index"].numpy()]
                            for i, it in zip(indices, items, strict=True)])
        is_action = torch.from_numpy(regions == REGION_ACTION)
        all_action += int(is_action.sum())
        all_count += is_action.numel()
        for background in backgrounds:
            picked = proposal_indices(attention, fsd_len, None, background)
            if background == backgrounds[0]:
                hits["action"] += int(is_action.gather(1, picked["action"]).sum())
            hits[f"background/{background}"] += int(
                is_action.gather(1, picked["background"]).sum())
        if branches is not None:  # diagnostic only: ACM-Net's background branch
            top_bkg = proposal_indices(branches[..., 2].float().cpu(), fsd_len)["action"]
            hits["background/acmnet-branch"] = hits.get("background/acmnet-branch", 0) + int(
                is_action.gather(1, top_bkg).sum())
        total += len(indices) * fsd_len
    return {**{k: v / max(total, 1) for k, v in hits.items()},
            "all_snippets": all_action / max(all_count, 1), "videos": len(ids),
            "snippets_per_proposal": fsd_len}
