"""Time the F-tests of fixed-effect terms (fit.anova) on the reference models: median of repeated calls.

Each call builds the hypotheses and the denominator df from a fitted model; Satterthwaite's ingredients
(fit.satterthwaite, numDeriv-style derivatives) are computed once per fit and cached, so they are timed
separately ("first call").  Kenward-Roger builds n x n matrices each call.

    python benchmarks/bench_fixed_anova.py            # 7 repeats
    python benchmarks/bench_fixed_anova.py --repeats 21
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.inference.test_fixed_anova import lmm_fit, reference  # noqa: E402  (the tests' data and fits)


def median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{'model':20s} {'n':>5s} {'first call':>11s} {'III Satt.':>10s} {'II Satt.':>10s} {'III KR':>10s}")
    for case_id, case in reference()["lmm"].items():
        fit = lmm_fit(case_id)
        start = time.perf_counter()
        fit.anova()
        first = time.perf_counter() - start
        cells = [median_seconds(lambda kind=kind: fit.anova(type=kind), args.repeats) for kind in ("III", "II")]
        kr = (f"{median_seconds(lambda: fit.anova(ddf='Kenward-Roger'), args.repeats):9.3f}s" if case["REML"]
              else f"{'(ML fit)':>10s}")
        print(f"{case_id:20s} {fit.design.n:5d} {first:10.3f}s {cells[0]:9.3f}s {cells[1]:9.3f}s {kr}")


if __name__ == "__main__":
    main()
