"""K-fold cross-validation speed: median wall time of bm.kfold over repeats, and the check that n_jobs does
not change the result.

Each repeat times bm.kfold(fit, k, by, seed) alone (the full fit is made once beforehand, untimed): k refits
and their held-out scores.  Cases: sleepstudy (Days | Subject) by ML, cbpp binomial by Laplace, and a
short Bayesian run (2 chains x 300 draws after 300 tuning per refit; compiled kernels come from the cache).

    python benchmarks/bench_kfold.py                 # every case, n_jobs 1 and 2
    python benchmarks/bench_kfold.py ml --repeats 7  # one case
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import bayesmixed as bm

CASES = {
    "ml": ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian", "ml", "Subject", 5),
    "glmm": ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", "ml", "herd", 5),
    "bayes": ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "gaussian", "bayes", "Subject", 3),
}
BAYES_OPTIONS = {"draws": 300, "tune": 300, "chains": 2, "seed": 1, "progressbar": False, "warn": False}


def run(case: str, k: int, repeats: int) -> None:
    data, formula, family, method, by, default_repeats = CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = bm.Model(formula, bm.datasets.load(data), family=family).fit(
            method, **(BAYES_OPTIONS if method == "bayes" else {}))
    results = {}
    for n_jobs in (1, 2):
        times = []
        for _ in range(repeats or default_repeats):
            started = time.perf_counter()
            results[n_jobs] = bm.kfold(fit, k=k, by=by, seed=3, n_jobs=n_jobs)
            times.append(time.perf_counter() - started)
        print(f"{case:6s} k={k} n_jobs={n_jobs}: median {statistics.median(times):.2f} s over {len(times)} "
              f"(min {min(times):.2f}, max {max(times):.2f}); elpd_kfold {results[n_jobs].elpd_kfold:.3f} "
              f"(se {results[n_jobs].se:.2f})")
    same = np.allclose(results[1].pointwise, results[2].pointwise, rtol=1e-10)
    print(f"{case:6s} same pointwise elpd with n_jobs 1 and 2: {same}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=0, help="0: each case's default")
    args = parser.parse_args()
    for case in args.cases:
        run(case, args.k, args.repeats)


if __name__ == "__main__":
    main()
