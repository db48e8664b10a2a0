"""The per-draw sampler statistics (BayesFit.sample_stats, shape (chains, draws, N_STATS)): one column each,
named as ArviZ's sample_stats group names them.  Kept free of numba so that readers of the statistics
(diagnostics, InferenceData, the PyMC route) do not import the compiled sampler that writes them."""

from __future__ import annotations

STAT_COLUMNS = ("tree_depth", "n_steps", "diverging", "energy", "step_size", "acceptance_rate", "lp")
TREE_DEPTH, N_STEPS, DIVERGING, ENERGY, STEP_SIZE, ACCEPTANCE_RATE, LOG_DENSITY = range(len(STAT_COLUMNS))
N_STATS = len(STAT_COLUMNS)
