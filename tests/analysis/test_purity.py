"""Proposal purity (:mod:`ftcl.analysis.purity`) against the planted labels of the tiny SynANet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftcl.analysis.purity import proposal_purity
from ftcl.data import VideoDataset
from ftcl.data.synthetic import REGION_ACTION, load_snippet_labels
from ftcl.models import ModelOutput


def test_proposal_purity_against_planted_labels(tiny_spec, tiny_root):
    """An oracle attention (1 on planted action snippets, 0 elsewhere, tiny noise to break ties)
    gives action proposals of pure action and "paper" background proposals of none, where the
    videos have enough of each; the "release" background then takes the next-ranked snippets."""
    spec = tiny_spec
    test = VideoDataset(tiny_root, "test", spec, sampling="uniform")
    regions = np.stack([load_snippet_labels(tiny_root, "test", v)[:, 3][test[i]["sample_index"]]
                        for i, v in enumerate(test.video_ids)])
    action = torch.from_numpy(regions == REGION_ACTION).float()
    counts = action.sum(dim=1)
    keep = [v for v, c in zip(test.video_ids, counts.tolist(), strict=True) if 4 <= c <= 20]
    assert keep, "the tiny data set needs videos with >= 4 action and >= 4 other snippets"
    oracle = action + 1e-3 * torch.rand(action.shape, generator=torch.Generator().manual_seed(0))
    index = {v: i for i, v in enumerate(test.video_ids)}

    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.calls = []

        def forward(self, feats):
            ids = self.calls.pop(0)
            att = oracle[[index[v] for v in ids]]
            return ModelOutput(cas=att[..., None], attention=att, video_scores=att[:, :1],
                               embeddings=feats)

    model = Oracle()
    model.calls = [keep]
    result = proposal_purity(model, test, fsd_len=2, video_ids=keep, batch_size=len(keep))
    assert result["action"] == 1.0 and result["background/paper"] == 0.0
    expected = float(np.mean([min(c - 2, 2) / 2 for c in counts[[index[v] for v in keep]]
                              .tolist()]))
    assert result["background/release"] == pytest.approx(expected)
    assert result["videos"] == len(keep) and 0 < result["all_snippets"] < 1
