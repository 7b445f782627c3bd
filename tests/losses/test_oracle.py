"""Oracle terms and the ladder's parts (ftcl.losses.oracle, the oracle/ladder keys of
ftcl.losses.contrast), against hand-computed answers and a per-anchor reference (issue 21)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ftcl.config import make_config
from ftcl.losses import FTCLObjective
from ftcl.losses.oracle import oracle_loss, sample_snippets, supervised_contrastive
from ftcl.models import build_backbone


def _supcon_reference(z, keys, anchors, temperature):
    """Per-anchor loops over the SupCon definition (Khosla et al. 2020, Eq. 2)."""
    n, losses = len(z), []
    for i in range(n):
        if not anchors[i]:
            continue
        pos = [p for p in range(n) if p != i and keys[p] == keys[i]]
        if not pos:
            continue
        denom = sum(math.exp(float(z[i] @ z[a]) / temperature) for a in range(n) if a != i)
        losses.append(-sum(math.log(math.exp(float(z[i] @ z[p]) / temperature) / denom)
                           for p in pos) / len(pos))
    return sum(losses) / len(losses)


def test_supervised_contrastive_matches_the_definition():
    gen = torch.Generator().manual_seed(0)
    z = F.normalize(torch.randn(9, 5, generator=gen, dtype=torch.float64), dim=-1)
    keys = torch.tensor([0, 0, 1, 1, 1, 2, -1, -2, 3])
    anchors = torch.tensor([True] * 6 + [False, False, True])
    got = supervised_contrastive(z, keys, anchors, 0.3)
    assert float(got) == pytest.approx(_supcon_reference(z, keys, anchors, 0.3), rel=1e-10)


def test_supervised_contrastive_without_positives_is_zero_with_a_graph():
    z = torch.randn(3, 4, requires_grad=True)
    loss = supervised_contrastive(F.normalize(z, dim=-1), torch.tensor([0, 1, 2]),
                                  torch.ones(3, dtype=torch.bool), 0.1)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert z.grad is not None


def test_sample_snippets_takes_action_then_others():
    torch.manual_seed(0)
    is_action = torch.zeros(2, 10, dtype=torch.bool)
    is_action[0, 2:7] = True  # 5 action snippets
    is_action[1, 0] = True  # 1 action snippet
    index, valid = sample_snippets(is_action, 3)
    assert index.shape == valid.shape == (2, 6)
    for v in range(2):
        first, second = index[v, :3][valid[v, :3]], index[v, 3:][valid[v, 3:]]
        assert bool(is_action[v, first].all()) and not bool(is_action[v, second].any())
        assert len(set(index[v][valid[v]].tolist())) == int(valid[v].sum())
    assert valid[0, :3].all() and valid[1, :3].tolist() == [True, False, False]


def _planted(classes, phases, regions):
    t = torch.tensor
    inst = torch.zeros_like(t(classes))
    return torch.stack([t(classes), t(phases), inst, t(regions)], dim=-1)


def test_phase_oracle_is_lower_when_phases_cluster():
    # two videos of class 0, 4 action snippets each (phases 0, 0, 1, 1) and 4 background
    classes = [[0, 0, 0, 0, -1, -1, -1, -1]] * 2
    phases = [[0, 0, 1, 1, -1, -1, -1, -1]] * 2
    regions = [[1, 1, 1, 1, 0, 0, 0, 0]] * 2
    planted = _planted(classes, phases, regions)
    centres = torch.eye(4)
    clustered = torch.stack([torch.stack([centres[0], centres[0], centres[1], centres[1],
                                          centres[2], centres[3], centres[2], centres[3]])] * 2)
    mixed = clustered[:, [0, 2, 1, 3, 4, 5, 6, 7]]  # phases swapped between snippets
    att = torch.full((2, 8), 0.5)
    torch.manual_seed(0)
    good = oracle_loss("phase", clustered, att, planted, per_video=4, temperature=0.1)
    torch.manual_seed(0)
    bad = oracle_loss("phase", mixed, att, planted, per_video=4, temperature=0.1)
    assert float(good) < float(bad)
    # the class oracle cannot tell the two (both phases are class 0)
    torch.manual_seed(0)
    cls_good = oracle_loss("class", clustered, att, planted, per_video=4, temperature=0.1)
    torch.manual_seed(0)
    cls_bad = oracle_loss("class", mixed, att, planted, per_video=4, temperature=0.1)
    assert float(cls_good) == pytest.approx(float(cls_bad))


def test_mask_oracle_is_bce_of_the_attention():
    planted = _planted([[0, -1, 0]], [[0, -1, 1]], [[1, 0, 1]])
    att = torch.tensor([[0.9, 0.2, 0.4]])
    expected = -(math.log(0.9) + math.log(0.8) + math.log(0.4)) / 3
    got = oracle_loss("mask", torch.zeros(1, 3, 2), att, planted)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_oracle_needs_planted_labels():
    with pytest.raises(ValueError, match="planted snippet labels"):
        oracle_loss("phase", torch.zeros(1, 3, 2), torch.zeros(1, 3), None)
    with pytest.raises(ValueError, match="unknown oracle"):
        oracle_loss("nonsense", torch.zeros(1, 3, 2), torch.zeros(1, 3), torch.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="ftcl.oracle"):
        make_config("acmnet", overrides={"ftcl.oracle": "nonsense"})


def test_planted_proposals_take_planted_snippets_by_attention():
    from ftcl.losses.oracle import planted_proposals

    regions = torch.tensor([[0, 1, 1, 0, 1, 0, 0, 1]])
    planted = torch.stack([regions * 0, regions * 0, regions * 0, regions], dim=-1)
    att = torch.tensor([[0.9, 0.1, 0.5, 0.8, 0.3, 0.2, 0.7, 0.4]])
    got = planted_proposals(att, planted, fsd_len=2, lcs_len=3)
    assert got["action"].tolist() == [[2, 7]]  # planted action, highest attention: 0.5, 0.4
    assert got["background"].tolist() == [[0, 3]]  # planted background, highest: 0.9, 0.8
    assert got["lcs"].tolist() == [[2, 4, 7]]


def test_planted_keys_match_only_same_class_and_phase():
    from ftcl.losses.oracle import planted_keys

    planted = torch.tensor([[[0, 0, 0, 1], [0, 1, 0, 1], [1, 0, 0, 1], [-1, -1, -1, 0]],
                            [[0, 0, 0, 1], [-1, -1, -1, 0], [0, 1, 0, 1], [1, 0, 0, 1]]])
    keys = planted_keys(planted)
    same = keys[0][:, None] == keys[1][None, :]
    assert same.nonzero().tolist() == [[0, 0], [1, 2], [2, 3]]  # background never matches
    assert keys[0, 3] != keys[1, 1]


def test_planted_matches_restrict_lcs_to_the_planted_cells():
    from ftcl.losses.contrast import sequence_score

    cfg = make_config("ftcl", overrides={"ftcl.term_scale": "raw"}).ftcl
    x = torch.ones(1, 3, 4)  # every cosine is 1: the plain LCS matches the diagonal (3)
    match = torch.tensor([[[True, False, False], [False, False, False], [False, False, True]]])
    plain, _ = sequence_score("lcs", x, x.clone(), cfg)
    only, _ = sequence_score("lcs", x, x.clone(), cfg, match)
    assert float(plain) == pytest.approx(3.0) and float(only) == pytest.approx(2.0)


def test_quantile_threshold_and_headless_fsd():
    from ftcl.losses.contrast import sequence_score

    cfg = make_config("ladder-d", overrides={"ftcl.term_scale": "raw"}).ftcl
    # cosines 1 (diagonal) and 0 (elsewhere) of one-hot rows: the median of the 9 cells is 0,
    # so tau = 0 and c > 0 matches the diagonal only
    x = torch.eye(3).unsqueeze(0)
    score, _ = sequence_score("lcs", x, x.clone(), cfg)
    assert float(score) == pytest.approx(3.0)
    objective = FTCLObjective(8, cfg)
    assert objective.projection is None and not list(objective.parameters())
    z = torch.randn(2, 5, 8)
    assert torch.equal(objective.project(z), torch.cat([z, z], dim=-1))


def test_ladder_rungs_are_cumulative_and_need_planted_labels(acm_batch):
    from ftcl.config import METHODS

    keys = [set(METHODS[f"ladder-{r}"].overrides) for r in "abcd"]
    assert all(a < b for a, b in zip(keys, keys[1:], strict=False))
    cfg = make_config("ladder-a", overrides={"model.embed_dim": 8, "ftcl.proj_dim": 8,
                                             "ftcl.fsd_len": 2, "ftcl.lcs_len": 4})
    model = build_backbone("acmnet", 16, 3, cfg.model)
    feats, labels = acm_batch
    with pytest.raises(ValueError, match="planted snippet labels"):
        FTCLObjective(8, cfg.ftcl).terms(model(feats), labels)


# ------------------------------------------------------------ issue 20: what the survivors missed


def test_supervised_contrastive_with_a_positive_that_is_no_anchor():
    """A row can be a positive without being an anchor: each anchor's softmax is over its own
    row (logsumexp kept as a column), which only shows when a key group is not all anchors."""
    gen = torch.Generator().manual_seed(1)
    z = F.normalize(torch.randn(6, 4, generator=gen, dtype=torch.float64), dim=-1)
    keys = torch.tensor([0, 0, 0, 1, 1, 2])
    anchors = torch.tensor([True, True, False, False, True, True])
    got = supervised_contrastive(z, keys, anchors, 0.5)
    assert float(got) == pytest.approx(_supcon_reference(z, keys, anchors, 0.5), rel=1e-10)


def test_oracle_tensors_follow_the_inputs_not_the_default_device():
    """Every tensor the oracle functions make is put on their input's device: under another
    default device (here "meta", which holds no values) CPU inputs still give CPU answers."""
    from ftcl.losses.oracle import planted_keys

    planted = _planted([[0, -1, 0, 0], [0, 0, -1, 0]], [[0, -1, 1, 1], [0, 1, -1, 0]],
                       [[1, 0, 1, 1], [1, 1, 0, 1]])
    is_action = planted[..., 3] == 1
    emb = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(2))
    z = F.normalize(emb[0], dim=-1)
    keys, anchors = torch.tensor([0, 0, 1, 1]), torch.ones(4, dtype=torch.bool)
    with torch.device("meta"):
        index, valid = sample_snippets(is_action, 2)
        got_keys = planted_keys(planted)
        contrast = supervised_contrastive(z, keys, anchors, 0.1)
        oracle = oracle_loss("phase", emb, torch.rand(2, 4, device="cpu"), planted, per_video=4)
    assert index.device.type == valid.device.type == "cpu"
    assert got_keys.device.type == "cpu"
    assert (got_keys.flatten()[:, None] == got_keys.flatten()[None, :]).nonzero().tolist() == [
        [0, 0], [0, 4], [0, 7], [1, 1], [2, 2], [2, 3], [2, 5], [3, 2], [3, 3], [3, 5],
        [4, 0], [4, 4], [4, 7], [5, 2], [5, 3], [5, 5], [6, 6], [7, 0], [7, 4], [7, 7]]
    assert float(contrast) == pytest.approx(_supcon_reference(z, keys, anchors, 0.1), rel=1e-5)
    want = _tuple_key_reference(emb, planted, "phase", 0.1)
    assert float(oracle) == pytest.approx(want, rel=1e-5)


def test_sample_snippets_keeps_a_score_of_zero(monkeypatch):
    """torch.rand can draw 0.0: such a snippet is still a valid pick (only the -1 filler of a
    video with too few snippets of a kind is not)."""
    monkeypatch.setattr(torch, "rand", lambda shape, device=None: torch.zeros(shape, device=device))
    is_action = torch.tensor([[True, False, True]])
    index, valid = sample_snippets(is_action, 2)
    assert valid.tolist() == [[True, True, True, False]]
    assert sorted(index[0, :2].tolist()) == [0, 2] and index[0, 2].item() == 1


def test_oracle_loss_draws_eight_snippets_per_video_by_default():
    """Identical embeddings and one key: each anchor's loss is log(N - 1) for N drawn snippets,
    so the default draw of 8 of the 10 action snippets of each of 2 videos gives log(15)."""
    planted = _planted([[0] * 10] * 2, [[1] * 10] * 2, [[1] * 10] * 2)
    emb = torch.ones(2, 10, 3)
    got = oracle_loss("phase", emb, torch.rand(2, 10), planted)
    assert float(got) == pytest.approx(math.log(15.0), rel=1e-5)


def _tuple_key_reference(emb, planted, name, temperature, eps=1e-8):
    """SupCon over every snippet, keys as tuples ((class, phase) or (class,) for action
    snippets, ("own", row) for the others), rows normalised by max(norm, eps)."""
    flat = emb.reshape(-1, emb.shape[-1]).double()
    z = flat / flat.norm(dim=-1, keepdim=True).clamp_min(eps)
    lab = planted.reshape(-1, 4).tolist()
    keys = [((r[0], r[1]) if name == "phase" else (r[0],)) if r[3] == 1 else ("own", i)
            for i, r in enumerate(lab)]
    return _supcon_reference(z, keys, [r[3] == 1 for r in lab], temperature)


def test_oracle_phase_keys_never_collide():
    """(class 64, phase 0) and (class 0, phase 1) are different keys, and no background snippet
    shares a key with an action snippet (background rows 1-3 sit where small keys would land)."""
    planted = _planted([[0, -1, -1, -1], [0, 0, 64, 0]], [[0, -1, -1, -1], [2, 2, 0, 1]],
                       [[1, 0, 0, 0], [1, 1, 1, 1]])
    emb = torch.randn(2, 4, 3, generator=torch.Generator().manual_seed(4))
    got = oracle_loss("phase", emb, torch.rand(2, 4), planted, per_video=4, temperature=0.2)
    assert float(got) == pytest.approx(_tuple_key_reference(emb, planted, "phase", 0.2), rel=1e-5)


def test_oracle_normalises_with_eps_1e_8():
    """Rows of norm below 1 are normalised to 1; a row of norm 1e-10 is divided by 1e-8."""
    planted = _planted([[0, 0, 0], [0, 0, 0]], [[0, 0, 1], [0, 1, 1]], [[1, 1, 1], [1, 1, 1]])
    emb = 0.3 * torch.randn(2, 3, 4, generator=torch.Generator().manual_seed(5))
    emb[0, 1] = emb[0, 1] / emb[0, 1].norm() * 1e-10
    got = oracle_loss("class", emb, torch.rand(2, 3), planted, per_video=3, temperature=0.5)
    assert float(got) == pytest.approx(_tuple_key_reference(emb, planted, "class", 0.5), rel=1e-5)


def test_planted_keys_are_long_and_never_collide():
    """Keys are integers; (class 64, phase 0) differs from (class 0, phase 1); no background
    snippet (flat positions 0, 1 and 5) shares a key with an action snippet, whatever its
    (class, phase): same key exactly when both are action snippets of one (class, phase)."""
    from ftcl.losses.oracle import planted_keys

    classes, phases = [[-1, -1, 0, 0], [0, -1, 64, 0]], [[-1, -1, 0, 1], [1, -1, 0, 0]]
    regions = [[0, 0, 1, 1], [1, 0, 1, 1]]
    keys = planted_keys(_planted(classes, phases, regions))
    assert keys.dtype == torch.long and keys.shape == (2, 4)
    flat = keys.flatten().tolist()
    tags = [(c, p) if r == 1 else ("own", i) for i, (c, p, r) in enumerate(zip(
        sum(classes, []), sum(phases, []), sum(regions, []), strict=True))]
    for i in range(8):
        for j in range(8):
            assert (flat[i] == flat[j]) == (tags[i] == tags[j]), (i, j)
    assert all(flat[i] < 0 for i in (0, 1, 5))


def test_planted_proposals_break_attention_ties_in_time_order():
    """Equal attention everywhere (T=24, where torch's unstable sort reorders ties): the action
    proposal and LCS sequence are the first planted action snippets in time, the background
    proposal the first others."""
    from ftcl.losses.oracle import planted_proposals

    regions = torch.tensor([[1, 0] * 12, [0, 1] * 12])
    planted = torch.stack([regions * 0, regions * 0, regions * 0, regions], dim=-1)
    got = planted_proposals(torch.full((2, 24), 0.5), planted, fsd_len=4, lcs_len=6)
    assert got["action"].tolist() == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert got["background"].tolist() == [[1, 3, 5, 7], [0, 2, 4, 6]]
    assert got["lcs"].tolist() == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11]]
