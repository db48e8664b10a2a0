"""The random streams of a Bayesian fit, all derived from its one seed.

Each use of randomness has its own stream: np.random.SeedSequence(seed, spawn_key=(purpose, index)), with a
fixed purpose number per use below and index the chain where there are several. Distinct keys give
independent streams (no chain shares draws with the random-effect draws or the predictions, whatever the
number of chains), and the same seed gives the same draws.
"""

from __future__ import annotations

import numpy as np

CHAIN, START, RANEF, PREDICT, PREDICTIVE, PRIOR, FIXED = range(7)  # purposes: never renumber (it changes every seeded result)
# FIXED: β drawn after sampling when the joint marginal route integrates it out


def stream(seed: int | None, purpose: int, index: int = 0) -> np.random.SeedSequence:
    """The stream of one purpose (and chain): seed None draws fresh entropy, as numpy does."""
    return np.random.SeedSequence(seed, spawn_key=(purpose, index))


def generator(seed: int | None, purpose: int, index: int = 0) -> np.random.Generator:
    """A numpy Generator on stream(seed, purpose, index)."""
    return np.random.default_rng(stream(seed, purpose, index))


def compiled_state(seed: int | None, purpose: int, index: int = 0) -> np.ndarray:
    """4 uint64 words of stream(seed, purpose, index): the state of the compiled code's xoshiro256** generator."""
    return stream(seed, purpose, index).generate_state(4, dtype=np.uint64)
