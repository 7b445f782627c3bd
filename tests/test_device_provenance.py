import pytest
import torch

from ftcl.device import choose_device
from ftcl.provenance import provenance


def test_choose_device_defaults_and_validates():
    assert choose_device("cpu") == torch.device("cpu")
    auto = choose_device()
    assert auto.type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            choose_device("cuda")


def test_provenance_has_version_and_commit():
    info = provenance(device="cpu")
    assert info["ftcl_version"]
    assert info["device"] == "cpu"
    assert "git_commit" in info
