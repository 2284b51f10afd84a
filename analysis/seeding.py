"""Seeds: one rule for turning a user's ``random_state`` into reproducible generators.

Every simulator and bootstrap accepts ``random_state`` as a non-negative int, a
``numpy.random.Generator``, a ``SeedSequence`` or None, and derives independent
streams from one root ``SeedSequence``: by name for the components of a simulation (so
adding a component never changes the draws of the others) and by ``spawn`` for
parallel work (so results do not depend on the number of workers).
"""

from __future__ import annotations

import zlib

import numpy as np

from analysis.errors import ConfigError

__all__ = ["seed_sequence", "make_rng", "component_seed", "component_rng", "stream_rng", "replication_seed"]


def seed_sequence(random_state, owner: str = "random_state") -> np.random.SeedSequence:
    """The root ``SeedSequence`` for ``random_state`` (a Generator contributes 256 bits)."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63, size=4).tolist())
    if random_state is None or (isinstance(random_state, (int, np.integer))
                                and not isinstance(random_state, bool) and random_state >= 0):
        return np.random.SeedSequence(None if random_state is None else int(random_state))
    raise ConfigError(f"{owner}: parameter 'random_state': expected a non-negative int, a numpy Generator, "
                      f"a SeedSequence or None, got {random_state!r}")


def make_rng(random_state, owner: str = "random_state") -> np.random.Generator:
    """A Generator for ``random_state`` (a Generator is used as it is, so callers share its stream).

    ``make_rng(5)`` draws exactly what ``numpy.random.default_rng(5)`` draws.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(seed_sequence(random_state, owner))


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    """Generator number ``stream`` of a run seeded with ``seed`` (independent of the others)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(stream,)))


def component_seed(root: np.random.SeedSequence, name: str) -> np.random.SeedSequence:
    """The ``SeedSequence`` of the named component (stable: keyed by the name's CRC-32)."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.SeedSequence(root.entropy, spawn_key=(*root.spawn_key, key))


def component_rng(root: np.random.SeedSequence, name: str) -> np.random.Generator:
    """An independent generator for the named component of a seeded computation."""
    return np.random.default_rng(component_seed(root, name))


def replication_seed(seed: int, *keys: int) -> np.random.SeedSequence:
    """The seed of one replication, keyed by integers (e.g. sample size and replication number).

    It depends on nothing else, so a replication draws the same data whichever worker runs
    it, and adding sample sizes to a study never changes the others.
    """
    return np.random.SeedSequence(int(seed), spawn_key=tuple(int(k) for k in keys))
