"""Data version 3 (ftcl.data.bank, ftcl.data.knobs): exact anagram pairs, a fixed class
structure, a fixed bank; version 2 unchanged (issue 21)."""

from __future__ import annotations

import torch

from ftcl.data import get_spec
from ftcl.data.bank import anagram_pairs as _anagram_pairs
from ftcl.data.bank import make_bank as _make_bank


def test_anagram_pairs_are_exact_and_disjoint():
    for seed in range(5):
        pairs = _anagram_pairs(20, 4, seed)
        assert len(pairs) == 4
        assert all(src < ana for ana, src in pairs.items())
        assert len(set(pairs) | set(pairs.values())) == 8
    assert _anagram_pairs(20, 0, 0) is None
    assert len(_anagram_pairs(3, 6, 0)) == 1  # as many pairs as the classes hold


def test_v3_bank_has_the_pairs_and_v2_is_unchanged():
    v2, v3 = get_spec("synthumos14", "quick", 2), get_spec("synthumos14", "quick", 3)
    assert v3.knobs.version == 3 and v2.knobs.version == 2 and v3.data_version == 3
    bank3 = _make_bank(v3.classes, 32, 0, v3.knobs)
    assert len(bank3.anagram_of) == v3.knobs.anagram_pairs
    for ana, src in bank3.anagram_of.items():
        assert sorted(bank3.phase_ids[ana]) == sorted(bank3.phase_ids[src])
        assert bank3.phase_ids[ana] != bank3.phase_ids[src]
    # version 2 is what it was: data seed 0's anagram classes, read before v3 existed
    bank2 = _make_bank(v2.classes, 32, 0, v2.knobs)
    assert bank2.anagram_of == {2: 0, 4: 2, 5: 1, 8: 4, 11: 0, 16: 4}


def test_structure_seed_fixes_the_class_structure_not_the_vectors():
    spec = get_spec("synthumos14", "quick", 3).replace(knobs={"structure_seed": 0,
                                                              "anagram_pairs": 4, "bank_seed": -1})
    knobs = get_spec("synthumos14", "quick", 2).knobs
    banks = [_make_bank(spec.classes, 32, seed, spec.knobs) for seed in (0, 1)]
    assert banks[0].phase_ids == banks[1].phase_ids
    assert banks[0].anagram_of == banks[1].anagram_of and len(banks[0].anagram_of) == 4
    assert not torch.allclose(torch.from_numpy(banks[0].prototypes[0]),
                              torch.from_numpy(banks[1].prototypes[0]))
    free = [_make_bank(spec.classes, 32, seed, knobs) for seed in (0, 1)]
    assert free[0].phase_ids != free[1].phase_ids  # without it, each data seed redraws it


def test_bank_seed_fixes_every_dataset_level_vector():
    spec = get_spec("synthumos14", "quick", 3).replace(knobs={"bank_seed": 5, "anagram_pairs": 4})
    a, b = (_make_bank(spec.classes, 32, seed, spec.knobs) for seed in (0, 1))
    assert a.phase_ids == b.phase_ids
    for x, y in ((a.atoms, b.atoms), (a.distractors, b.distractors),
                 (a.class_scene, b.class_scene), (a.prototypes[3], b.prototypes[3])):
        assert torch.equal(torch.from_numpy(x), torch.from_numpy(y))
