"""Parametric-bootstrap LRT on sleepstudy, correlated vs uncorrelated slopes, on one core, beside pbkrtest.

pbkrtest's PBmodcomp took 9.3 s for 500 simulations of this pair on this machine (p = 0.828).

    python benchmarks/bench_bootstrap.py            # 500 simulations, timed inside the process
    python benchmarks/bench_bootstrap.py --n 0      # imports and fits only: subtract it from a whole-process
                                                    # timing (e.g. /usr/bin/time -v) of the line above
"""

from __future__ import annotations

import argparse
import os

# One core, as pbkrtest ran: BLAS threads would otherwise be counted as free speed.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import time  # noqa: E402

import bayesmixed as bm  # noqa: E402

PBKRTEST_SECONDS_PER_500 = 9.3
PBKRTEST_P = 0.828


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="simulations (0: fit the models only)")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    sleep = bm.datasets.load("sleepstudy")
    small = bm.lmer("Reaction ~ Days + (Days || Subject)", sleep, REML=False)
    big = bm.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    if args.n == 0:
        return
    started = time.perf_counter()
    result = bm.bootstrap_lrt(small, big, n=args.n, seed=args.seed, progress=False)
    seconds = time.perf_counter() - started
    per_500 = seconds * 500 / args.n
    print(f"bayesmixed bootstrap_lrt: {per_500:.2f} s per 500 simulations ({args.n} run in {seconds:.2f} s, "
          f"{result.n_failed} failed); p = {result.p_value:.3f} (Monte Carlo SE {result.mc_se:.3f})")
    print(f"pbkrtest PBmodcomp:       {PBKRTEST_SECONDS_PER_500:.2f} s per 500 simulations; p = {PBKRTEST_P:.3f}")
    print(f"speed-up: {PBKRTEST_SECONDS_PER_500 / per_500:.1f}x")


if __name__ == "__main__":
    main()
