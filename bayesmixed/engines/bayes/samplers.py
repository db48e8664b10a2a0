"""Drive the compiled NUTS over several chains in threads, with an optional progress bar."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ...progress import ProgressHandle, progress_display
from .sample_stats import N_STATS
from .seeds import CHAIN, compiled_state

CHUNK = 100  # iterations between progress updates


@dataclass(frozen=True)
class ChainOutput:
    draws: np.ndarray  # (chains, draws, D) unconstrained
    stats: np.ndarray  # (chains, draws, N_STATS): columns sample_stats.STAT_COLUMNS
    inverse_metric: np.ndarray  # (chains, D) diagonal of the adapted inverse metric
    warmup_steps: np.ndarray  # (chains,) leapfrog steps (gradient evaluations) spent tuning


def run_numba_nuts(model: tuple, inits: np.ndarray, *, draws: int, tune: int, seed, dense: bool,
                   initial_inverse_metric: np.ndarray | None = None, target_accept: float = 0.8, max_depth: int = 10,
                   progressbar: bool | None = None, cores: int | None = None) -> ChainOutput:
    """Sample len(inits) chains of the packed model with the numba NUTS; chains run in parallel threads
    (progressbar: see bayesmixed.progress).

    initial_inverse_metric: (D, D) (dense) or (D,) (diagonal) guess used until the first warm-up window ends.
    """
    from .kernels import log_density_pointer
    from .nuts import STEP, WARMUP_STEPS, run_iterations, warmup_schedule

    chains, D = inits.shape
    schedule = warmup_schedule(tune)
    out_draws = np.empty((chains, draws, D))
    out_stats = np.empty((chains, draws, N_STATS))
    start_metric = np.ones(D) if initial_inverse_metric is None else np.asarray(initial_inverse_metric, dtype=float)
    start_dense = start_metric if start_metric.ndim == 2 else np.diag(start_metric)
    inverse_diag = np.tile(np.diag(start_dense), (chains, 1))
    warmup_steps = np.zeros(chains)
    total = tune + draws
    dense_size = D if dense else 0
    log_density = log_density_pointer(model)  # the route's kernel only, compiled apart from the sampler

    def run_chain(c: int, bar: ProgressHandle) -> None:
        x = np.ascontiguousarray(inits[c], dtype=np.float64).copy()
        grad = np.zeros(D)
        scalars = np.zeros(8)
        scalars[STEP] = 0.1
        inv_dense = start_dense.copy() if dense else np.eye(0)
        chol_dense = np.linalg.cholesky(start_dense) if dense else np.eye(0)
        rng = compiled_state(seed, CHAIN, c)
        welford = (np.zeros(D), np.zeros(D), np.zeros((dense_size, dense_size)))
        for start in range(0, total, CHUNK):
            stop = min(start + CHUNK, total)
            run_iterations(log_density, model, x, grad, scalars, inverse_diag[c], inv_dense, chol_dense, *welford, rng,
                           dense, schedule, float(target_accept), int(max_depth), start, stop, tune, out_draws[c], out_stats[c])
            bar.advance(stop - start)
        warmup_steps[c] = scalars[WARMUP_STEPS]

    workers = max(1, min(chains, cores or os.cpu_count() or 1))
    with progress_display(f"Sampling {chains} chains", chains * total, progressbar) as bar:
        if workers == 1:
            for c in range(chains):
                run_chain(c, bar)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(run_chain, range(chains), [bar] * chains))
    return ChainOutput(out_draws, out_stats, inverse_diag, warmup_steps)

