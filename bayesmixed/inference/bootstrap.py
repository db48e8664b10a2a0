"""The parametric bootstrap: simulate from a fitted model, refit, collect a statistic (the lecture's six steps).

Replicate i draws its response from `np.random.SeedSequence(seed).spawn(n)[i]`, inside the task that
refits it, so the results are the same whatever `n_jobs` and whichever joblib backend runs the tasks
(`with joblib.parallel_backend("dask"):` sends them to a Dask cluster).  A refit that fails is
counted and left out, not fatal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import BayesmixedError
from ..progress import progress_display
from ..results.table import Cell, Document, Rendered, Table
from .fits import fit_label, nesting_problems
from .lrt import prepare_for_comparison
from .parameters import embed_theta
from .refit import RefitFailure, embed_fixef, response_model, start_of

# Replicates per joblib task: enough to amortise a task's overhead, few enough for a live progress bar.
MAX_CHUNK = 50
TASKS_PER_WORKER = 8
# Relative difference of the two models' criteria at the same fit (the bigger one's with the extra
# parameters at 0) that is rounding, not a worse refit: ~1e-16 .. 1e-13 measured.
NESTED_ROUNDING = 1e-10


@dataclass(frozen=True)
class ReplicateRun:
    """Statistics of n replicates (a row of NaN where the refit failed) and why the failures failed."""

    values: np.ndarray
    failures: tuple[str, ...]
    entropy: int

    @property
    def n_failed(self) -> int:
        return len(self.failures)


def _run_chunk(replicate: Callable[[np.random.Generator], Any], seeds: Sequence[np.random.SeedSequence]) -> list:
    results = []
    for seed in seeds:
        try:
            results.append((np.atleast_1d(np.asarray(replicate(np.random.default_rng(seed)), dtype=float)), None))
        except (RefitFailure, BayesmixedError, ArithmeticError, ValueError, np.linalg.LinAlgError) as error:
            results.append((None, f"{type(error).__name__}: {error}"))
    return results


def run_replicates(replicate: Callable[[np.random.Generator], Any], n: int, size: int, seed: int | None,
                   n_jobs: int | None, progress: bool | None, description: str) -> ReplicateRun:
    """Call `replicate(rng)` for n independent generators through joblib; each call returns `size` numbers."""
    import joblib

    if n < 1:
        raise BayesmixedError(f"the bootstrap needs at least one simulation; got n = {n}")
    root = np.random.SeedSequence(seed)
    children = root.spawn(n)
    workers = max(1, joblib.effective_n_jobs(n_jobs))
    chunk = max(1, min(MAX_CHUNK, math.ceil(n / (TASKS_PER_WORKER * workers))))
    starts = list(range(0, n, chunk))
    values = np.full((n, size), np.nan)
    failures: list[str] = []
    tasks = (joblib.delayed(_run_chunk)(replicate, children[start:start + chunk]) for start in starts)
    results = joblib.Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    with progress_display(description, n, progress) as bar:
        for start, chunk_results in zip(starts, results):
            for offset, (value, failure) in enumerate(chunk_results):
                if failure is None:
                    values[start + offset] = value
                else:
                    failures.append(failure)
            bar.advance(len(chunk_results))
    return ReplicateRun(values, tuple(failures), int(root.entropy))


@dataclass(frozen=True, eq=False)
class LrtReplicate:
    """One bootstrap replicate of the LRT: y from the null fit, both models refitted, 2(ℓ₁ − ℓ₀) returned."""

    null_fit: Any
    big_fit: Any

    @cached_property
    def _plan(self) -> tuple[Any, Any, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The two response models and the observed estimates as starts, made once per worker."""
        return (response_model(self.null_fit), response_model(self.big_fit), start_of(self.null_fit),
                start_of(self.big_fit))

    def __call__(self, rng: np.random.Generator) -> float:
        null, big, null_start, big_start = self._plan
        y = self.null_fit.simulate(1, seed=rng)[0]
        small = null.refit(y, [null_start])
        # Starting the bigger model also where it reproduces the smaller one's refit keeps it from
        # stopping above that refit's criterion, which would give a negative statistic.
        nested_start = {"theta": embed_theta(null.design, big.design, small.theta)}
        if big.uses_fixef_start:
            nested_start["fixef"] = embed_fixef(null.design, big.design, null.fixef(small))
        refit = big.refit(y, [big_start, nested_start])
        statistic = small.objective - refit.objective
        # Below 0 only by rounding when the bigger refit stays at the nested start; a larger negative
        # value (a refit that went wrong) is kept visible.
        return 0.0 if -NESTED_ROUNDING * abs(small.objective) < statistic < 0.0 else statistic


@dataclass(frozen=True, repr=False)
class BootstrapLRT(Rendered):
    """Parametric-bootstrap likelihood-ratio test.

    stat: observed 2(ℓ_big − ℓ_small); p_value: (k + 1)/(n_ok + 1) with k simulated statistics >= stat
    (pbkrtest's PBmodcomp: the observed data count as one draw under H0, so p is never 0); mc_se: its
    Monte Carlo standard error √(p(1−p)/n_ok); simulated: the statistics of the successful refits;
    seed_entropy: the root SeedSequence's entropy (pass it as seed to repeat a run made with seed=None).
    """

    stat: float
    p_value: float
    mc_se: float
    simulated: np.ndarray
    n_failed: int
    n: int
    df: int
    chisq_p: float
    seed_entropy: int
    notes: tuple[str, ...] = field(default=())

    @property
    def n_ok(self) -> int:
        return int(self.simulated.size)

    def to_frame(self) -> pd.DataFrame:
        """One row: stat, df, the χ² p-value, the bootstrap p-value, its Monte Carlo SE, simulations, failures."""
        return pd.DataFrame(
            {"stat": [self.stat], "df": [self.df], "p_chisq": [self.chisq_p], "p_bootstrap": [self.p_value],
             "mc_se": [self.mc_se], "n_ok": [self.n_ok], "n_failed": [self.n_failed]},
            index=pd.Index(["LRT"], name="test"),
        )

    def document(self) -> Document:
        """Text: lines as before; HTML/markdown/LaTeX: one row with the same numbers."""
        title = (f"Parametric bootstrap LRT ({self.n_ok} of {self.n} simulations refitted"
                 + (f", {self.n_failed} failed" if self.n_failed else "") + ")")
        text = (f"  statistic 2Δℓ = {self.stat:.4f} on {self.df} df",
                f"  bootstrap p = {self.p_value:.4f} (Monte Carlo SE {self.mc_se:.4f})   χ² p = {self.chisq_p:.4g}")
        cells = (Cell(f"{self.stat:.4f}", self.stat), Cell(str(self.df), self.df),
                 Cell(f"{self.chisq_p:.4g}", self.chisq_p), Cell(f"{self.p_value:.4f}", self.p_value),
                 Cell(f"{self.mc_se:.4f}", self.mc_se),
                 Cell(str(self.n_ok), self.n_ok), Cell(str(self.n_failed), self.n_failed))
        table = Table(("statistic 2Δℓ", "df", "χ² p", "bootstrap p", "Monte Carlo SE", "refitted", "failed"), (cells,),
                      align="r" * len(cells), name="bootstrap-lrt", text=text)
        refits = "REML" if any("REML likelihoods" in note for note in self.notes) else "ML"
        method = (f"bootstrap p = (k + 1)/(n + 1), k of the n simulated statistics (responses drawn from the null "
                  f"fit, both models refitted by {refits}) reaching the observed one; χ² p for comparison only")
        return Document(title=(title,), blocks=(table,), notes=(*self.notes, method), note_width=None,
                        name="bootstrap-lrt")


def bootstrap_lrt(m0: Any, m1: Any, n: int = 1000, seed: int | None = None, n_jobs: int | None = 1,
                  progress: bool | None = None, refit: bool = True) -> BootstrapLRT:
    """Parametric bootstrap of the likelihood-ratio statistic 2(ℓ₁ − ℓ₀), m0 nested in m1: simulate n
    responses from m0, refit both models to each, p = (k + 1)/(n + 1) with k simulated statistics >= the
    observed one (pbkrtest's PBmodcomp).  Models that are not nested are refused: simulating from m0 says
    nothing about m1 then.

    REML fits are refitted by ML first (as anova does; refit=False keeps REML when the fixed effects
    agree).  Refits start at the observed θ̂ (warm start).  Reproducible by seed whatever n_jobs; under
    `with joblib.parallel_backend("dask"):` the refits run on the Dask cluster.
    """
    if int(n) != n or n < 1:
        raise BayesmixedError(f"bootstrap_lrt needs n >= 1 simulations; got {n!r}")
    prepared, notes = prepare_for_comparison({"m0": m0, "m1": m1}, refit, "bootstrap_lrt")
    small, big = prepared["m0"], prepared["m1"]
    if small.npar >= big.npar:
        raise BayesmixedError(
            f"bootstrap_lrt(m0, m1) needs m0 nested in m1 with fewer parameters; m0 {fit_label(m0)!r} has "
            f"{small.npar} and m1 {fit_label(m1)!r} has {big.npar} (swap them?)"
        )
    problems = nesting_problems(small, big)
    if problems:
        raise BayesmixedError(
            f"bootstrap_lrt needs m0 nested in m1, and m0 {fit_label(m0)!r} is not nested in m1 {fit_label(m1)!r}: "
            + "; ".join(problems) + ". Responses simulated from m0 then say nothing about m1's fit; compare "
            "non-nested models with aic_table (or PSIS-LOO for Bayesian fits)"
        )
    observed = 2.0 * (big.loglik - small.loglik)
    response_model(small), response_model(big)  # fail now, not in every replicate, for a fit that cannot refit
    replicate = LrtReplicate(small, big)
    run = run_replicates(replicate, n, 1, seed, n_jobs, progress, "bootstrap LRT")
    simulated = run.values[:, 0]
    simulated = simulated[np.isfinite(simulated)]
    if simulated.size == 0:
        raise BayesmixedError(f"every bootstrap refit failed; first reason: {run.failures[0]}")
    exceeding = int(np.sum(simulated >= observed))
    p_value = (exceeding + 1) / (simulated.size + 1)
    if run.n_failed:
        notes.append(f"{run.n_failed} of {n} refits failed and were left out (first: {run.failures[0]})")
    if exceeding in (0, simulated.size):
        notes.append(f"{'no' if exceeding == 0 else 'every'} simulated statistic reached the observed one: the "
                     f"bootstrap resolves p only to 1/{simulated.size + 1}; simulate more for a finer answer")
    df = int(big.npar - small.npar)
    return BootstrapLRT(
        stat=float(observed), p_value=p_value, mc_se=float(np.sqrt(p_value * (1 - p_value) / simulated.size)),
        simulated=simulated, n_failed=run.n_failed, n=n, df=df, chisq_p=float(stats.chi2.sf(max(observed, 0.0), df)),
        seed_entropy=run.entropy, notes=tuple(notes),
    )
