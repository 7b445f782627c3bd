"""ftcl.book.viz: figures carry exactly the frames they are given; offline HTML has no plotly.js."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("plotly")

from ftcl.book import viz  # noqa: E402
from ftcl.book.offline import to_offline_html  # noqa: E402


def _links(trace) -> list[tuple[int, int]]:
    """(i, j) pairs drawn by a links trace (x = [i, j, None, ...], y = [1, 0, None, ...])."""
    xs = list(trace.x)
    assert len(xs) % 3 == 0 and all(v is None for v in xs[2::3])
    assert list(trace.y[0::3]) == [1.0] * (len(xs) // 3)
    return list(zip(xs[0::3], xs[1::3], strict=True))


def test_heatmap_frames_and_slider():
    rng = np.random.default_rng(0)
    frames = rng.random((3, 4, 5))
    fig = viz.alignment_heatmap_figure(frames, ["a", "b", "c"], titles=["t0", "t1", "t2"],
                                       active=1)
    assert [f.name for f in fig.frames] == ["a", "b", "c"]
    assert [s.label for s in fig.layout.sliders[0].steps] == ["a", "b", "c"]
    assert fig.layout.sliders[0].active == 1
    np.testing.assert_allclose(np.array(fig.data[0].z), frames[1].round(4))
    for k, frame in enumerate(fig.frames):
        np.testing.assert_allclose(np.array(frame.data[0].z), frames[k].round(4))
        assert frame.layout.title.text == f"t{k}"
    assert fig.layout.title.text == "t1"
    assert list(fig.layout.sliders[0].steps[2].args[0]) == ["c"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"frames": np.zeros((4, 5)), "slider_labels": ["a"]}, "K, M, N"),
        ({"frames": np.zeros((2, 4, 5)), "slider_labels": ["a", "a"]}, "distinct"),
        ({"frames": np.zeros((2, 4, 5)), "slider_labels": ["a", "b"], "active": 2}, "active"),
        ({"frames": np.zeros((1, 2, 2)), "slider_labels": ["a"], "labels_a": ["x"]}, "labels"),
    ],
)
def test_heatmap_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.alignment_heatmap_figure(**kwargs)


def test_linked_snippets_draw_each_path():
    paths = [[(0, 0), (2, 1)], [], [(1, 3)]]
    fig = viz.linked_snippets_figure(paths, ["0.5", "0.9", "0.95"], 4, 5,
                                     phases_a=[0, 1, 1, -1], phases_b=[0, 0, 1, 1, -1], active=0)
    assert _links(fig.data[0]) == paths[0]
    for path, frame in zip(paths, fig.frames, strict=True):
        assert _links(frame.data[0]) == path
        assert frame.traces == (0,)
    # Background snippets are grey, one colour per phase otherwise.
    colours_a = list(fig.data[1].marker.color)
    assert colours_a[3] == viz._BACKGROUND_COLOUR
    assert colours_a[1] == colours_a[2] != colours_a[0]
    with pytest.raises(ValueError, match="outside"):
        viz.linked_snippets_figure([[(4, 0)]], ["x"], 4, 5)


def test_phase_agreement_by_hand():
    assert viz.phase_agreement([(0, 0), (1, 2), (2, 3)], [5, 6, 7], [5, 0, 6, 1]) == 2 / 3
    # background-background is not agreement
    assert viz.phase_agreement([(0, 0), (1, 1)], [-1, 2], [-1, 2]) == 1 / 2
    assert viz.phase_agreement([(0, 0)], ["bg"], ["bg"], background="bg") == 0.0
    assert viz.phase_chance([-1, 0, 1], [-1, 0]) == pytest.approx(1 / 6)
    assert np.isnan(viz.phase_agreement([], [1], [1]))
    with pytest.raises(ValueError, match="outside"):
        viz.phase_agreement([(3, 0)], [1, 2], [1])


def test_offline_html_references_no_plotly_js():
    fig = viz.alignment_heatmap_figure(np.eye(3)[None], ["1"])
    out = to_offline_html(fig, div_id="fsd-figure")
    html = out.data
    assert 'id="fsd-figure"' in html
    assert "Plotly.newPlot" in html
    assert "<script src" not in html and "cdn.plot.ly" not in html
    assert "MathJax" not in html.replace("window.PlotlyConfig = {MathJaxConfig: 'local'}", "")
    bundle = out._repr_mimebundle_()
    assert bundle["application/vnd.plotly.v1+json"]["data"][0]["type"] == "heatmap"
    with pytest.raises(ValueError, match="plotly Figure"):
        to_offline_html({"data": []})


def _dp():
    dp = pytest.importorskip("ftcl.dp")
    if not hasattr(dp, "fsd_alignment") or not hasattr(dp, "lcs_path"):
        pytest.skip("ftcl.dp does not provide fsd_alignment/lcs_path yet")
    return dp


def test_fsd_alignment_figure_hard_step_is_a_path():
    _dp()
    rng = np.random.default_rng(1)
    mu, g = rng.normal(size=(2, 4, 6))
    fig = viz.fsd_alignment_figure(mu, g, g, gammas=(1.0, 10.0, None))
    assert fig.layout.sliders[0].active == 1  # gamma = 10 first
    hard = np.array(fig.frames[2].data[0].z)
    assert set(np.unique(hard)) <= {0.0, 1.0}
    assert hard[-1, -1] == 1.0  # every alignment path ends in cell (M, N)
    soft = np.array(fig.frames[0].data[0].z)
    assert soft.min() >= 0 and soft.max() <= 1 + 1e-6


def test_lcs_links_figure_matches_lcs_path():
    dp = _dp()
    import torch

    rng = np.random.default_rng(2)
    c = rng.uniform(-1, 1, size=(7, 5))
    taus = (0.0, 0.5, 0.92)
    fig = viz.lcs_links_figure(c, taus=taus)
    for tau, frame in zip(taus, fig.frames, strict=True):
        want = [tuple(int(v) for v in p)
                for p in dp.lcs_path(torch.as_tensor(c[None]), tau=tau)[0]]
        got = _links(frame.data[0])
        assert got == want
        assert all(c[i, j] > tau for i, j in got)
