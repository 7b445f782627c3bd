"""The generator knobs of SynTHUMOS14 / SynANet (:class:`SyntheticKnobs`), as plain data.

This module imports nothing from ``ftcl``: :mod:`ftcl.data.spec` (which holds the chosen values)
and :mod:`ftcl.data.synthetic` (which uses them) both import it, so neither imports the other
(the import circle ``data/spec <-> data/synthetic <-> inference`` of issue 13 is gone). The
feature model the knobs control is described in :mod:`ftcl.data.synthetic`; the chosen values
and why are in :mod:`ftcl.data.spec`.

Data versions
-------------
Version 1 (``SyntheticKnobs()``): every class draws its own ordered sub-action phases, so every
action snippet identifies its class. Version 2 adds, each behind a knob whose value 0 (or
``phase_library=0``) gives back version 1 exactly (same random streams, byte-identical output):

- ``phase_library`` (L): the sub-action phases of all classes are drawn from one library of L
  shared phase prototypes (paper Sec. 1 and Fig. 2: an action is a sequence of fine-grained
  sub-actions; different actions share sub-actions). ``library_popularity`` s: a class draws
  library phase ``l`` with probability proportional to ``(l + 1) ** -s``, so a few phases are
  common to many classes (weakly discriminative) and most are rare. ``specific_phases``: how many
  of each class's phases are its own (not in the library). ``anagram_fraction``: the share of
  classes that take the phase set (and scene) of an earlier class in another order -- a bag of
  snippets cannot tell such a pair apart, their order can (what FSD / LCS alignment exploits).
- ``hard_negative_rate``: expected number of hard-negative background segments per action
  instance (Poisson), placed in the video's background (paper Sec. 3.2, action-background
  ambiguity). ``hard_negative_own``: the share of them that are the instance's own phases in a
  wrong order (a permutation other than the class's); the others are one phase of another class.
  Their amplitude is ``hard_negative_strength x action_strength``; their length is ``0.3-1.0 x``
  the instance's.

Version 3 adds one knob (0 = off = version 2, byte-identical): ``anagram_pairs``: exactly this many
disjoint pairs of classes, the later class of each pair holding the earlier one's phases (and
scene) in another order, instead of a Bernoulli(``anagram_fraction``) draw per class. In version 2
the number of anagram classes of a data seed is binomial (2 to 11 of 19 over data seeds 0-9) and
they chain (one class with up to three anagrams); that count alone explains most of ACM-Net's
spread across data seeds (correlation -0.86 with its held-out score over seeds 0-9; issue 21,
``results/quick/dose/calibration/``). A fixed count of pairs makes every data seed a draw of the
same design. ``structure_seed`` (-1 = off = version 2): the class structure -- each class's number
of phases, its library phases and their order, the anagram pairs -- is drawn from this seed instead
of the data seed; the data seed then draws the vectors (phase, class, scene, background
directions) and the videos. The real THUMOS14 has one class structure; a data seed that redraws
it is another benchmark, not another draw of this one. ``bank_seed`` (-1 = off): the whole bank
-- the class structure *and* every dataset-level vector (phases, class directions, scenes,
background atoms, distractors) -- from this seed; the data seed then draws only the videos.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SyntheticKnobs:
    """Difficulty knobs of the generator (see :mod:`ftcl.data.synthetic` for the feature model).

    The defaults are version 1's generic knobs; the version-2 knobs default to "off".
    """

    substeps: int = 4
    phases_min: int = 2
    phases_max: int = 4
    phase_concentration: float = 4.0
    phase_separation: float = 0.6
    prototype_separation: float = 0.6
    action_strength: float = 1.0
    amplitude_jitter: float = 0.4
    style_strength: float = 0.5
    class_scene_strength: float = 0.6
    context_strength: float = 0.6
    context_seconds: float = 2.0
    context_fraction: float = 0.25
    scene_strength: float = 1.0
    scene_class_correlation: float = 0.5
    background_strength: float = 0.7
    background_atoms: int = 16
    background_timescale: float = 4.0
    distractor_strength: float = 0.8
    distractor_rate: float = 3.0
    distractor_seconds: tuple[float, float] = (1.0, 4.0)
    distractors: int = 8
    flow_scene_ratio: float = 0.3
    rgb_motion_ratio: float = 0.5
    noise: float = 0.8
    smoothing: float = 0.75
    # ---- version 2 (0 = off = version 1)
    phase_library: int = 0
    library_popularity: float = 1.0
    specific_phases: int = 1
    anagram_fraction: float = 0.0
    hard_negative_rate: float = 0.0
    hard_negative_own: float = 0.5
    hard_negative_strength: float = 1.0
    # ---- version 3 (0 / -1 = off = version 2)
    anagram_pairs: int = 0
    structure_seed: int = -1
    bank_seed: int = -1

    def __post_init__(self):
        if self.substeps < 1 or self.phases_min < 1 or self.phases_max < self.phases_min:
            raise ValueError(f"invalid SyntheticKnobs: {self}")
        for name in ("phase_separation", "prototype_separation", "scene_class_correlation",
                     "anagram_fraction", "hard_negative_own"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"SyntheticKnobs.{name} must be in [0, 1]")
        if self.anagram_pairs < 0 or self.structure_seed < -1 or self.bank_seed < -1:
            raise ValueError("SyntheticKnobs.anagram_pairs must be >= 0, structure_seed and "
                             "bank_seed >= -1")
        if self.phase_library < 0 or self.hard_negative_rate < 0 or self.library_popularity < 0:
            raise ValueError("SyntheticKnobs.phase_library, library_popularity and "
                             "hard_negative_rate must be >= 0")
        if self.phase_library and not 0 <= self.specific_phases <= self.phases_min:
            raise ValueError("SyntheticKnobs.specific_phases must be in [0, phases_min]")
        if self.phase_library and self.phase_library < self.phases_max - self.specific_phases:
            raise ValueError("SyntheticKnobs.phase_library must hold at least "
                             "phases_max - specific_phases phases")
        object.__setattr__(self, "distractor_seconds", tuple(self.distractor_seconds))

    @property
    def version(self) -> int:
        """3 with exact anagram pairs, 2 if any version-2 phenomenon is switched on, else 1."""
        if self.anagram_pairs > 0 or self.structure_seed >= 0 or self.bank_seed >= 0:
            return 3
        return 2 if (self.phase_library > 0 or self.hard_negative_rate > 0) else 1

    @classmethod
    def full_size(cls, **changes) -> SyntheticKnobs:
        """Knobs of the 2048-d profiles: ``noise`` 3.2 = 0.8 x sqrt(2048 / 128).

        ``noise`` fixes the noise *norm*; this keeps the noise per feature direction of the 128-d
        quick profile.
        """
        return cls(**{"noise": 3.2, **changes})

    @classmethod
    def activitynet(cls, **changes) -> SyntheticKnobs:
        """Knobs for SynANet: few long instances, so longer context and slower background."""
        base = dict(
            context_seconds=4.0,
            context_fraction=0.15,
            background_timescale=8.0,
            distractor_rate=1.5,
            distractor_seconds=(2.0, 8.0),
        )
        base.update(changes)
        return cls(**base)
