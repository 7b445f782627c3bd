"""Where things are: the one module that spells folders and files (ftcl.paths)."""

from __future__ import annotations

from pathlib import Path

from ftcl import paths
from ftcl.paths import display_path


def test_display_path_names_no_folder_of_the_machine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "a" / "b.json") == "a/b.json"
    assert display_path(Path.home() / ".cache" / "ftcl" / "x") == "~/.cache/ftcl/x"
    checkout = Path(__file__).resolve().parents[1]
    assert paths.ROOT == checkout
    assert display_path(checkout / "results" / "quick") == "results/quick"


def test_results_layout_and_the_run_folder(tmp_path):
    from types import SimpleNamespace

    assert paths.record_file(tmp_path, "quick", "x") == tmp_path / "quick" / "runs" / "x.json"
    record = paths.record_file(tmp_path, "quick", "x")
    assert paths.mechanism_of_record(record) == tmp_path / "quick" / "mechanism" / "x.json"
    assert paths.log_of_record(record) == paths.log_file(tmp_path, "quick", "x")
    assert paths.superseded_of_record(record) == tmp_path / "quick" / "superseded"
    assert paths.protocol_file(tmp_path, "quick") == tmp_path / "quick" / "tables" / "protocol.json"
    cfg = SimpleNamespace(out_dir=str(tmp_path), dataset="synanet", profile="quick",
                          run_name=None, method="ftcl", seed=3,
                          model=SimpleNamespace(backbone="acmnet"))
    assert paths.run_directory(cfg) == tmp_path / "synanet-quick" / "ftcl" / "seed3"
    assert paths.stage1_checkpoint(cfg, "k") == (tmp_path / "_stage1" / "synanet-quick"
                                                 / "acmnet-seed3-k.pt")


def test_cache_and_work_dir_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FTCL_CACHE", str(tmp_path))
    assert paths.default_work_dir() == tmp_path / "reproduce"
    assert paths.feature_scan_cache(None) == tmp_path / "validated-features.json"
    monkeypatch.delenv("FTCL_CACHE")
    assert paths.default_cache_dir() == Path.home() / ".cache" / "ftcl"


def test_results_dir_is_found_from_the_notebooks_folder(tmp_path, monkeypatch):
    (tmp_path / "results").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert paths.resolve_results_dir() == tmp_path / "results"
    assert paths.resolve_results_dir("elsewhere") == Path("elsewhere")


def test_portable_paths_name_no_folder_of_the_machine(tmp_path):
    checkout = Path(__file__).resolve().parents[1]
    assert paths.portable_path(None) is None
    assert paths.portable_path(checkout / "results" / "quick") == "results/quick"
    assert paths.portable_path(Path.home() / ".cache" / "ftcl") == "~/.cache/ftcl"
    assert paths.portable_path("/nowhere/regen-work") == ".../regen-work"
    assert paths.portable_path("relative/x.json") == "relative/x.json"


def test_work_relative_paths_round_trip(tmp_path):
    work = tmp_path / "work"
    ckpt = work / "_stage1" / "synanet-quick" / "acmnet-seed0-abc.pt"
    rel = paths.relative_to_work(ckpt, work)
    assert rel == "_stage1/synanet-quick/acmnet-seed0-abc.pt"
    assert paths.resolve_in_work(rel, work) == work / rel
    assert paths.resolve_in_work(str(ckpt), tmp_path / "elsewhere") == ckpt  # older records
    assert paths.resolve_in_work(None, work) is None
    assert paths.relative_to_work("/nowhere/x.pt", work) == ".../x.pt"


def test_scrub_paths_replaces_whole_folders():
    text = ('out_dir = "/tmp/w"; rec = "/tmp/w/_records/a.json"; cache = "/tmp/w-data"; '
            'other = "/tmp/wx"')
    out = paths.scrub_paths(text, ["/tmp/w", "/tmp/w-data", None])
    assert out == ('out_dir = ".../w"; rec = ".../w/_records/a.json"; cache = ".../w-data"; '
                   'other = ".../wx"')
