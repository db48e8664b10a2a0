"""GLMM engine speed and agreement: median wall time per glmer fit, beside lme4's glmer.

Each fit is timed from bm.glmer(formula, data, ...) to the returned fit - the design, the optimisation
and the Hessian for the standard errors, as glmer's own time includes model-frame building and its
derivative checks - after one untimed warm-up fit (imports and first-call set-up excluded).
glmer's figures are issue 6's (lme4 1.1-31 on this machine's kind): cbpp 0.06 s, VerbAgg 2.7 s.

    python benchmarks/bench_glmm.py                        # cbpp and verbagg
    python benchmarks/bench_glmm.py verbagg --repeats 11   # one dataset, more repeats
    python benchmarks/bench_glmm.py cbpp --nagq 25         # adaptive Gauss-Hermite
    python benchmarks/bench_glmm.py --setup-only verbagg   # load data only (the baseline for whole-process timing)
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import bayesmixed as bm

CASES = {
    "cbpp": {
        "formula": "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        "glmer_seconds": 0.06,
        "glmer": {"minus2loglik": 184.053132779061, "theta": [0.642069927729179]},
        "repeats": 31,
    },
    "verbagg": {
        "formula": "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
        "glmer_seconds": 2.7,
        "glmer": {"minus2loglik": 8151.40049020929, "theta": [1.33953935269711, 0.495242515069566]},
        "repeats": 7,
    },
}


def time_fits(name: str, repeats: int, nagq: int) -> tuple[list[float], bm.engines.glmm.GlmmFit]:
    case = CASES[name]
    data = bm.datasets.load(name)
    warnings.simplefilter("ignore")
    fit = bm.glmer(case["formula"], data, "binomial", nagq=nagq)
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        fit = bm.glmer(case["formula"], data, "binomial", nagq=nagq)
        seconds.append(time.perf_counter() - started)
    return seconds, fit


def report(name: str, seconds: list[float], fit, nagq: int) -> None:
    case = CASES[name]
    median = statistics.median(seconds)
    print(f"{name}: {case['formula']}  (nagq = {nagq}, {len(seconds)} fits)")
    print(f"  bayesmixed  median {median:.4f} s  (min {min(seconds):.4f}, max {max(seconds):.4f})")
    if nagq == 1:
        print(f"  glmer       {case['glmer_seconds']:.2f} s  ->  {case['glmer_seconds'] / median:.1f}x glmer's speed")
        reference = case["glmer"]
        print(f"  -2 logLik   ours {fit.objective:.6f}   glmer {reference['minus2loglik']:.6f}   "
              f"(ours - glmer = {fit.objective - reference['minus2loglik']:+.2e})")
        print(f"  theta       ours {np.array2string(fit.theta, precision=5)}   glmer "
              f"{np.array2string(np.array(reference['theta']), precision=5)}")
    else:
        print(f"  -2 logLik   ours {fit.objective:.6f}   (glmer's scale, without the saturated constant: "
              f"{fit.lme4_objective:.6f})")
    print(f"  route {fit.route}, {fit.n_evals} PIRLS runs, converged {fit.converged}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", choices=[*CASES, []], help="cbpp, verbagg (default: both)")
    parser.add_argument("--repeats", type=int, default=None, help="timed fits per dataset (default: 31 cbpp, 7 verbagg)")
    parser.add_argument("--nagq", type=int, default=1)
    parser.add_argument("--setup-only", action="store_true", help="import and load the data, fit nothing")
    args = parser.parse_args()
    for name in args.datasets or list(CASES):
        if args.setup_only:
            bm.datasets.load(name)
            continue
        seconds, fit = time_fits(name, args.repeats or CASES[name]["repeats"], args.nagq)
        report(name, seconds, fit, args.nagq)


if __name__ == "__main__":
    main()
