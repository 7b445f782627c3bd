"""The bank of a synthetic data set: its dataset-level vectors and its class structure.

Every ingredient of :mod:`ftcl.data.synthetic`'s feature model that is shared by all videos of a
data set: the per-class ordered phase prototypes (version 1: each class its own; version 2: drawn
from a shared library, with anagram classes), the class scenes, the background atoms and the
distractor prototypes, and which phase ids each class holds (:class:`Bank`). The knobs are
:class:`ftcl.data.knobs.SyntheticKnobs`; a data seed draws the bank (version 3 with ``bank_seed``:
one bank for every data seed) and the videos.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .knobs import SyntheticKnobs

# --------------------------------------------------------------------------------------------
# random vectors
# --------------------------------------------------------------------------------------------


def crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def draw(rng: np.random.Generator, n: int, dim: int, kind: str, knobs: SyntheticKnobs):
    """``n`` random unit vectors; ``kind`` (appearance/motion/mixed) weights the halves."""
    x = rng.standard_normal((n, dim))
    half = dim // 2
    if kind == "appearance":
        x[:, half:] *= knobs.flow_scene_ratio
    elif kind == "motion":
        x[:, :half] *= knobs.rgb_motion_ratio
    return unit_rows(x)


def mix(a: np.ndarray, b: np.ndarray, weight_a: float) -> np.ndarray:
    return unit_rows(np.sqrt(weight_a) * a + np.sqrt(1.0 - weight_a) * b)


@dataclass
class Bank:
    """Dataset-level vectors: per class (seeded by its name) and shared."""

    prototypes: dict  # class index -> [K_c, D]
    class_scene: np.ndarray  # [C, D]
    atoms: np.ndarray  # [M, D]
    distractors: np.ndarray  # [J, D]
    # class index -> the global id of each of its K_c phases: 0..L-1 library phases (shared),
    # L + K_max * c + j the class's own phases (version 1: all phases are own phases)
    phase_ids: dict = dataclasses.field(default_factory=dict)
    anagram_of: dict = dataclasses.field(default_factory=dict)  # class -> the class it permutes


def make_bank(classes: Sequence[str], dim: int, seed: int, knobs: SyntheticKnobs) -> Bank:
    """The dataset-level vectors and class structure of data seed ``seed`` (version 3 with
    ``bank_seed``: of that seed, the same for every data seed)."""
    if knobs.bank_seed >= 0:
        seed = knobs.bank_seed
    shared = np.random.default_rng([seed, 1])
    generic = draw(shared, knobs.phases_max, dim, "motion", knobs)
    atoms = draw(shared, knobs.background_atoms, dim, "mixed", knobs)
    distractors = draw(shared, knobs.distractors, dim, "motion", knobs)
    if knobs.phase_library > 0:
        return make_library_bank(classes, dim, seed, knobs, atoms, distractors)
    prototypes, scenes, ids = {}, [], {}
    for c, name in enumerate(classes):
        rng = np.random.default_rng([seed, 2, crc(name)])
        k = int(rng.integers(knobs.phases_min, knobs.phases_max + 1))
        scenes.append(draw(rng, 1, dim, "appearance", knobs)[0])
        class_dir = draw(rng, 1, dim, "motion", knobs)
        phase_dir = draw(rng, k, dim, "motion", knobs)
        own = mix(phase_dir, np.repeat(class_dir, k, axis=0), knobs.phase_separation)
        prototypes[c] = mix(own, generic[:k], knobs.prototype_separation)
        ids[c] = [knobs.phases_max * c + j for j in range(k)]
    return Bank(prototypes, np.stack(scenes), atoms, distractors, ids, {})


def make_library_bank(classes, dim, seed, knobs: SyntheticKnobs, atoms, distractors) -> Bank:
    """Version 2: phases from a shared library (see :mod:`ftcl.data.knobs`).

    Class ``c`` has ``K_c`` phases: ``specific_phases`` own ones and ``K_c - specific_phases``
    distinct library phases drawn with probability ``(l + 1) ** -library_popularity``, in a random
    order; each phase vector is mixed with a class direction (weight ``1 - phase_separation``;
    1 = the library vectors themselves). With probability ``anagram_fraction`` a class (not the
    first) instead takes the phase vectors and the scene of an earlier class in another order.
    The library assignment is drawn class by class in the spec's class order; vectors of a class
    are seeded by its name.
    """
    n_lib = knobs.phase_library
    library = draw(np.random.default_rng([seed, 6]), n_lib, dim, "motion", knobs)
    weight = (np.arange(n_lib) + 1.0) ** -knobs.library_popularity
    weight /= weight.sum()
    # the class structure (phase counts, library draws and orders, anagram classes) comes from
    # structure_seed when it is set (version 3), else from the data seed (version 2)
    structure = seed if knobs.structure_seed < 0 else knobs.structure_seed
    plan = np.random.default_rng([structure, 7])  # library draws and orders
    twins = np.random.default_rng([structure, 9])  # which classes are anagrams (kept apart from
    # the library draws, so that changing the library knobs does not change the anagram classes)
    prototypes, scenes, ids, anagram_of = {}, [], {}, {}
    pairs = anagram_pairs(len(classes), knobs.anagram_pairs, structure)
    for c, name in enumerate(classes):
        rng = np.random.default_rng([seed, 2, crc(name)])
        k = int(rng.integers(knobs.phases_min, knobs.phases_max + 1))
        if knobs.structure_seed >= 0:
            k = int(np.random.default_rng([structure, 11, crc(name)]).integers(
                knobs.phases_min, knobs.phases_max + 1))
        scene = draw(rng, 1, dim, "appearance", knobs)[0]
        class_dir = draw(rng, 1, dim, "motion", knobs)
        own = draw(rng, max(knobs.specific_phases, 1), dim, "motion", knobs)
        own_ids = [n_lib + knobs.phases_max * c + j for j in range(knobs.specific_phases)]
        vec = {n_lib + knobs.phases_max * c + j: own[j] for j in range(knobs.specific_phases)}
        if pairs is None:
            is_anagram = twins.random() < knobs.anagram_fraction
            src = int(twins.integers(max(c, 1)))
        else:  # version 3: the exact pairs
            is_anagram, src = c in pairs, pairs.get(c, 0)
        if c > 0 and is_anagram:
            seq = list(ids[src])
            order = plan.permutation(len(seq))
            while len(seq) > 1 and np.array_equal(order, np.arange(len(seq))):
                order = plan.permutation(len(seq))
            seq = [seq[j] for j in order]
            scene, anagram_of[c] = scenes[src], src
            vec = dict(zip(ids[src], prototypes[src], strict=True))
        else:
            lib = plan.choice(n_lib, size=k - knobs.specific_phases, replace=False, p=weight)
            seq = [int(x) for x in lib] + own_ids
            seq = [seq[j] for j in plan.permutation(len(seq))]
            vec = {p: mix(library[p][None] if p < n_lib else vec[p][None], class_dir,
                           knobs.phase_separation)[0] for p in seq}
        ids[c] = seq
        prototypes[c] = np.stack([vec[p] for p in seq])
        scenes.append(scene)
    return Bank(prototypes, np.stack(scenes), atoms, distractors, ids, anagram_of)


def anagram_pairs(n_classes: int, n_pairs: int, seed: int) -> dict[int, int] | None:
    """Version 3: ``{anagram class: its source}`` for ``n_pairs`` disjoint pairs of classes
    (at most ``n_classes // 2``; None when ``n_pairs`` is 0: version 2's per-class draw).
    ``2 n_pairs`` distinct classes drawn at random and paired in draw order; the later class of a
    pair (in class order) is the anagram. Its own random stream, so the library draws are those
    of version 2."""
    if n_pairs == 0:
        return None
    n_pairs = min(n_pairs, n_classes // 2)  # a spec of few classes (tests): as many as fit
    chosen = np.random.default_rng([seed, 10]).choice(n_classes, size=2 * n_pairs, replace=False)
    out = {}
    for a, b in chosen.reshape(-1, 2):
        src, ana = sorted((int(a), int(b)))
        out[ana] = src
    return out


__all__ = ["Bank", "anagram_pairs", "crc", "draw", "make_bank", "mix", "unit_rows"]
