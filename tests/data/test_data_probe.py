"""Probes of the planted structure (ftcl.data.probe) on tiny data whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftcl.data import generate_synthetic, get_spec
from ftcl.data.probe import (
    background_probe,
    bag_probe,
    dtw_costs,
    load_planted,
    order_probe,
    planted_from_arrays,
    probe_root,
    resample,
)
from ftcl.data.synthetic import source_annotations
from ftcl.dp.reference import soft_dtw_reference

E = np.eye(4)


def _video(seq, cls, rng, background=(2,), hard=None):
    """Features of one video: 3 background snippets, the instance (phase ids in order, each held
    1-3 snippets), 3 background snippets, then optionally hard-negative snippets (phase ids)."""
    rows, lab = [], []
    for b in background * 3:
        rows.append(E[b])
        lab.append((-1, -1, -1, 0))
    for k, p in enumerate(seq):
        for _ in range(rng.integers(1, 4)):
            rows.append(E[p])
            lab.append((cls, k, 0, 1))
    for b in background * 3:
        rows.append(E[b])
        lab.append((-1, -1, -1, 0))
    for p in hard or ():
        rows.append(E[p])
        lab.append((-1, -1, 0, 4))
    x = np.array(rows) + 0.01 * rng.standard_normal((len(rows), 4))
    return x, np.array(lab, dtype=np.int16)


def _anagram_data(n, seed):
    """Class 0 does phase 0 then 1, class 1 phase 1 then 0: same bag, opposite order."""
    rng = np.random.default_rng(seed)
    return planted_from_arrays([_video((0, 1) if c == 0 else (1, 0), c, rng)
                                for c in (0, 1) for _ in range(n)])


def test_bag_cannot_and_order_can_tell_an_anagram_pair():
    fit, held = _anagram_data(20, 0), _anagram_data(10, 1)
    assert len(fit.instances) == 40 and len(held.instances) == 20
    # the bags of the two classes are the same up to the durations: about chance
    assert bag_probe(fit, held) <= 0.75
    assert order_probe(fit, held) == 1.0


def test_bag_and_order_agree_on_disjoint_phases():
    rng = np.random.default_rng(0)
    make = lambda n: planted_from_arrays(  # noqa: E731
        [_video((0, 1) if c == 0 else (3, 2), c, rng, background=(2,)) for c in (0, 1)
         for _ in range(n)])
    fit, held = make(10), make(5)
    assert bag_probe(fit, held) == 1.0 and order_probe(fit, held) == 1.0


def test_background_probe_counts_hard_negatives_as_action():
    rng = np.random.default_rng(0)
    videos = [_video((0, 1), 0, rng, background=(2,), hard=(0, 1, 1)) for _ in range(20)]
    fit = planted_from_arrays(videos[:15])
    held = planted_from_arrays(videos[15:])
    bg = background_probe(fit, held)
    assert bg["background"] == 0.0  # direction 2: never action
    assert bg["hard negative"] == 1.0  # the action's own phases, out of place
    assert bg["action recall"] == 1.0
    n_bg, n_hard = 6 * 5, 3 * 5
    assert bg["all"] == pytest.approx(n_hard / (n_bg + n_hard))
    assert np.isnan(bg["context"])


def test_resample_and_dtw_against_the_reference():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5))
    assert np.allclose(resample(x, 7), x)
    assert np.allclose(resample(x[:1], 4), np.repeat(x[:1], 4, 0))
    assert np.allclose(resample(np.array([[0.0], [1.0]]), 4)[:, 0], [0, 0.25, 0.75, 1])
    queries = [rng.standard_normal((n, 5)) for n in (3, 6, 1)]
    templates = rng.standard_normal((2, 4, 5))
    got = dtw_costs(queries, templates)
    unit = lambda a: a / np.linalg.norm(a, axis=-1, keepdims=True)  # noqa: E731
    for i, q in enumerate(queries):
        for c in range(2):
            cost = torch.from_numpy(1.0 - unit(q) @ unit(templates[c]).T)
            want = soft_dtw_reference(cost, gamma=None)
            assert got[i, c] == pytest.approx(float(want), abs=1e-9)


# the v2 design with explicit knobs (so that recalibrating the defaults does not move the test)
DESIGN = {"phase_library": 16, "library_popularity": 1.0, "specific_phases": 1,
          "phase_separation": 1.0, "hard_negative_rate": 1.0, "hard_negative_own": 0.5}


@pytest.fixture(scope="module")
def small_roots(tmp_path_factory):
    """67 training videos spread over SynTHUMOS14 quick: v1, and v2 with 0 / 80 % anagrams."""
    roots = {}
    v2 = get_spec("synthumos14", "quick", data_version=2).replace(knobs=DESIGN)
    specs = {"v1": get_spec("synthumos14", "quick", data_version=1),
             "v2-no-anagrams": v2.replace(knobs={"anagram_fraction": 0.0}),
             "v2-anagrams": v2.replace(knobs={"anagram_fraction": 0.8})}
    ids = source_annotations(specs["v1"])[1]["train"][::3]
    for name, spec in specs.items():
        roots[name] = tmp_path_factory.mktemp(name)
        generate_synthetic(spec, roots[name], seed=0, video_ids=ids)
    return roots


def test_anagrams_open_an_alignment_headroom(small_roots):
    res = {name: probe_root(root) for name, root in small_roots.items()}
    assert abs(res["v1"]["headroom"]) <= 0.03 and res["v1"]["bag"] >= 0.9
    assert res["v2-anagrams"]["headroom"] >= res["v2-no-anagrams"]["headroom"] + 0.15
    assert res["v2-anagrams"]["order"] >= 0.6  # some anagrams share an order
    assert np.isnan(res["v1"]["background"]["hard negative"])
    for name in ("v2-anagrams", "v2-no-anagrams"):
        bg = res[name]["background"]
        assert bg["hard negative"] > 3 * bg["background"]  # hard negatives look like action
    root = small_roots["v2-anagrams"]
    held, fit = load_planted(root, "train", "held"), load_planted(root, "train", "fit")
    assert len(held.instances) + len(fit.instances) == len(load_planted(root, "train",
                                                                         "all").instances)
    with pytest.raises(ValueError, match="part"):
        load_planted(root, "train", "rest")


def test_sweep_figure_draws_every_probe():
    from ftcl.book import viz

    rows = [{"knob": k, "value": v, "bag": 0.5, "order": 0.7 + v / 10, "headroom": 0.2 + v / 10,
             "background": 0.1, "hard_negative": 0.4} for k in ("a", "b") for v in (0.0, 1.0)]
    fig = viz.probe_sweep_figure(rows, title="t")
    assert len(fig.data) == 2 * 5  # 5 series in each of the 2 knob panels
    headroom = [t for t in fig.data if t.name.startswith("alignment")][0]
    assert list(headroom.x) == [0.0, 1.0] and list(headroom.y) == pytest.approx([20.0, 30.0])
    with pytest.raises(ValueError):
        viz.probe_sweep_figure([])
