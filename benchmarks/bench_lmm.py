"""REML engine speed and memory: median wall time per lmer fit, beside lme4's lmer.

Each fit is timed from bm.lmer(formula, data) to the returned fit - the design, the optimisation and
the convergence checks, as lmer's own time includes model-frame building and its derivative checks -
after one untimed warm-up fit (imports and first-call set-up excluded).  Satterthwaite df and the
conditional variances are computed lazily (on summary() / ranef_sd), so they are timed apart.
lmer's figures are issue 3's (lme4 1.1-31, median on this 2-core machine): sleepstudy 0.014 s,
InstEval 21.4 s; statsmodels MixedLM takes 0.054 s for sleepstudy.  Peak memory is the process's.
On a shared machine, time lme4 under the same conditions with benchmarks/bench_lmm_lme4.R (same data
files, same per-fit medians), ideally interleaved with this script.

    python benchmarks/bench_lmm.py                         # sleepstudy and insteval
    python benchmarks/bench_lmm.py insteval --repeats 3    # one dataset
    python benchmarks/bench_lmm.py --setup-only insteval   # load data only (baseline for whole-process timing)
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time

import numpy as np

import bayesmixed as bm

CASES = {
    "sleepstudy": {
        "formula": "Reaction ~ Days + (Days | Subject)",
        "lmer_seconds": 0.014,
        "lmer": {"objective": 1743.62827195995, "theta": [0.966741773967412, 0.0151690588960361, 0.230909953207795]},
        "repeats": 101,
    },
    "insteval": {
        "formula": "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
        "lmer_seconds": 21.4,
        "lmer": {"objective": 237733.83412752, "theta": [0.276495836337538, 0.437365255231133, 0.0706057552630903]},
        "repeats": 5,
    },
}


def peak_memory_mb() -> float:
    """The process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_fits(name: str, repeats: int):
    case = CASES[name]
    data = bm.datasets.load(name)
    fit = bm.lmer(case["formula"], data)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        fit = bm.lmer(case["formula"], data)
        seconds.append(time.perf_counter() - started)
    return seconds, fit


def report(name: str, seconds: list[float], fit) -> None:
    case = CASES[name]
    median = statistics.median(seconds)
    print(f"{name}: {case['formula']}  ({len(seconds)} fits, {fit.n_evals} criterion evaluations per fit)")
    print(f"  bayesmixed  median {median:.4f} s  (min {min(seconds):.4f}, max {max(seconds):.4f})")
    print(f"  lmer        {case['lmer_seconds']:.3f} s  ->  {case['lmer_seconds'] / median:.1f}x lmer's speed")
    theta = np.asarray(case["lmer"]["theta"])
    print(f"  objective - lmer's: {fit.objective - case['lmer']['objective']:+.2e}   "
          f"max |theta / lmer's - 1|: {np.max(np.abs(fit.theta / theta - 1)):.1e}")
    started = time.perf_counter()
    fit.coefficients  # Satterthwaite df (lmerTest's numerical Hessian and Jacobian)
    satterthwaite = time.perf_counter() - started
    started = time.perf_counter()
    fit.ranef_sd  # conditional variances (lme4's condVar)
    condvar = time.perf_counter() - started
    print(f"  on demand: Satterthwaite df {satterthwaite:.3f} s, conditional sds {condvar:.3f} s")
    print(f"  peak memory of this process: {peak_memory_mb():.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", choices=[*CASES, []], help="sleepstudy, insteval (default: both)")
    parser.add_argument("--repeats", type=int, default=None, help="timed fits per dataset")
    parser.add_argument("--setup-only", action="store_true", help="load the data and stop")
    args = parser.parse_args()
    for name in args.datasets or list(CASES):
        if args.setup_only:
            bm.datasets.load(name)
            continue
        seconds, fit = time_fits(name, args.repeats or CASES[name]["repeats"])
        report(name, seconds, fit)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
