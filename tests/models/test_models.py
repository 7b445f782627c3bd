"""Backbones: the common interface, value checks against plain re-computations, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from ftcl.config import ModelConfig
from ftcl.models import BACKBONES, ModelOutput, build_backbone
from ftcl.models.base import minmax_normalise, topk_mean
from ftcl.models.cola import binary_dilation, binary_erosion

D, C, T, B = 12, 4, 24, 3


def _model(name: str, **kw) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_backbone(name, D, C, ModelConfig(backbone=name, embed_dim=10, **kw))


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_interface_shapes_and_ranges(name):
    model = _model(name).eval()
    out = model(torch.randn(B, T, D))
    assert isinstance(out, ModelOutput)
    assert out.cas.shape == (B, T, C)
    assert out.attention.shape == (B, T)
    assert out.video_scores.shape == (B, C)
    assert out.embeddings.shape == (B, T, 10)
    for x in (out.cas, out.attention, out.video_scores):
        assert torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
    a, b = out.split(1)
    assert a.cas.shape[0] == 1 and b.cas.shape[0] == B - 1
    assert all(v.shape[0] == B - 1 for v in b.extras.values())


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_batch_independence_in_eval_mode(name):
    """A video's outputs do not depend on the other videos of the batch."""
    model = _model(name).eval()
    x = torch.randn(B, T, D)
    full = model(x)
    one = model(x[1:2])
    torch.testing.assert_close(full.cas[1:2], one.cas)
    torch.testing.assert_close(full.video_scores[1:2], one.video_scores)


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_feature_width_mismatch_is_a_clear_error(name):
    model = _model(name)
    with pytest.raises(ValueError, match=rf"expects D={D}.*D={D + 1}"):
        model(torch.randn(2, T, D + 1))
    with pytest.raises(ValueError, match="B, T, D"):
        model(torch.randn(T, D))


def test_unknown_backbone():
    with pytest.raises(ValueError, match="unknown backbone 'i3d'"):
        build_backbone("i3d", D, C)


def test_embed_dim_defaults_to_feature_dim():
    model = build_backbone("acmnet", D, C, ModelConfig(embed_dim=None))
    assert model.embed_dim == D


def test_acmnet_matches_a_numpy_recomputation():
    """Eval-mode ACM-Net against a loop-by-loop numpy version of the same network."""
    model = _model("acmnet", topk_divisors=(8, 3, 3)).eval()
    x = torch.randn(2, T, D)
    with torch.no_grad():
        out = model(x)
    p = {k: v.detach().double().numpy() for k, v in model.state_dict().items()}
    xs = x.double().numpy()
    w, bias = p["embedding.1.weight"], p["embedding.1.bias"]  # [E, D, 3]
    for v in range(2):
        pad = np.concatenate([np.zeros((1, D)), xs[v], np.zeros((1, D))])
        emb = np.stack([np.maximum(0, sum(w[:, :, k] @ pad[t + k] for k in range(3)) + bias)
                        for t in range(T)])  # [T, E]
        logits_att = emb @ p["attention.weight"][:, :, 0].T + p["attention.bias"]
        att = np.exp(logits_att) / np.exp(logits_att).sum(1, keepdims=True)
        logits = emb @ p["classifier.weight"].T + p["classifier.bias"]  # [T, C+1]
        for branch, divisor in enumerate((8, 3, 3)):
            k = T // divisor
            cas = logits * att[:, branch : branch + 1]
            pooled = np.sort(cas, axis=0)[::-1][:k].mean(0)
            probs = np.exp(pooled) / np.exp(pooled).sum()
            np.testing.assert_allclose(out.extras["video_probs"][v, branch].numpy(), probs,
                                       rtol=1e-4, atol=1e-6)
            top = np.argsort(-att[:, branch], kind="stable")[:k]
            np.testing.assert_allclose(out.extras["branch_features"][v, branch].numpy(),
                                       emb[top].mean(0), rtol=1e-4, atol=1e-5)
        inst = logits * att[:, :1]
        soft = np.exp(inst) / np.exp(inst).sum(1, keepdims=True)
        np.testing.assert_allclose(out.cas[v].numpy(), soft[:, :C], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(out.attention[v].numpy(), att[:, 0], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(out.embeddings[v].numpy(), emb, rtol=1e-4, atol=1e-5)


def test_stpn_tcam_is_attention_times_sigmoid_scores():
    model = _model("stpn").eval()
    x = torch.randn(2, T, D)
    out = model(x)
    scores = torch.sigmoid(model.classifier(out.embeddings))
    torch.testing.assert_close(out.cas, out.attention[..., None] * scores)
    pooled = (out.attention[..., None] * out.embeddings).mean(1)
    torch.testing.assert_close(out.video_scores, torch.sigmoid(model.classifier(pooled)))


def test_wtalc_kmax_pooling():
    model = _model("wtalc").eval()
    out = model(torch.randn(2, T, D))
    logits = out.extras["logits"]
    k = int(np.ceil(T / 8))
    expected = logits.sort(dim=1, descending=True).values[:, :k].mean(1)
    torch.testing.assert_close(out.extras["video_logits"], expected)
    assert torch.allclose(out.cas.amax(dim=1), torch.ones(2, C))


def test_cola_mining_shapes_and_regions():
    model = _model("cola").eval()
    out = model(torch.randn(2, T, D))
    assert out.extras["easy_act"].shape == (2, T // 5, 10)
    assert out.extras["hard_act"].shape == (2, max(T // 20, 1), 10)


def test_topk_mean_and_minmax():
    x = torch.tensor([[3.0, 1.0, 2.0, 5.0]])
    assert topk_mean(x, 2).item() == pytest.approx(4.0)
    assert topk_mean(x, 99).item() == pytest.approx(2.75)  # k clipped to T
    torch.testing.assert_close(minmax_normalise(x), torch.tensor([[0.5, 0.0, 0.25, 1.0]]))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 6])
def test_binary_morphology_against_brute_force_and_scipy(size):
    rng = np.random.default_rng(size)
    mask = (rng.random((4, 30)) > 0.4).astype(np.float32)
    left = size // 2
    lo = [max(0, t - left) for t in range(30)]
    hi = [t + size - 1 - left for t in range(30)]
    dil = np.array([[m[lo[t]: hi[t] + 1].max() for t in range(30)] for m in mask])
    ero = np.array([[float(t - left >= 0 and hi[t] < 30 and m[lo[t]: hi[t] + 1].min() == 1)
                     for t in range(30)] for m in mask])
    got_dil = binary_dilation(torch.from_numpy(mask), size).numpy()
    got_ero = binary_erosion(torch.from_numpy(mask), size).numpy()
    np.testing.assert_array_equal(got_dil, dil)
    np.testing.assert_array_equal(got_ero, ero)
    if size % 2:  # odd windows are centred the same way in scipy
        struct = np.ones((1, size), dtype=bool)
        np.testing.assert_array_equal(got_dil, ndimage.binary_dilation(mask, struct))
        np.testing.assert_array_equal(got_ero, ndimage.binary_erosion(mask, struct))
