"""Simulation-based calibration of the Bayesian engine: rank histograms and χ² uniformity tests.

Small models on fixed designs with fixed priors (SBC needs priors that do not look at y):
  gaussian          y ~ x + (x | g), 8 groups x 6 rows (marginal route, and --full for the non-centred route);
  gaussian crossed  y ~ x + (1 | g) + (1 | h), 6 x 5 crossed levels x 2 rows (joint marginal route);
  binomial          cbind(y, n − y) ~ x + (1 | g), 10 groups x 8 rows of 5 trials (full route).

    python benchmarks/sbc.py --simulations 200
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import default_priors
from bayesmixed.engines.bayes.sbc import simulation_based_calibration


def sbc_designs() -> dict[str, tuple]:
    """name -> (design, fixed priors) for the calibration models."""
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(8), 6)
    gaussian = pd.DataFrame({"x": rng.normal(size=g.size), "g": [f"g{i}" for i in g], "y": 0.0})
    design = build_design("y ~ x + (x | g)", gaussian.assign(y=rng.normal(size=g.size)))
    priors = default_priors(design).updated({
        "(Intercept)": bm.prior.Normal(0, 1), "x": bm.prior.Normal(0, 1), "sigma": bm.prior.HalfNormal(1),
        "sd(g:(Intercept))": bm.prior.HalfNormal(1), "sd(g:x)": bm.prior.HalfNormal(0.5), "cor(g)": bm.prior.LKJ(2)})
    g2 = np.repeat(np.arange(10), 8)
    binomial = pd.DataFrame({"x": rng.normal(size=g2.size), "g": [f"g{i}" for i in g2], "n": 5})
    binomial["y"] = rng.binomial(5, 0.5, size=g2.size)
    binomial["fail"] = binomial["n"] - binomial["y"]
    design_b = build_design("cbind(y, fail) ~ x + (1 | g)", binomial, family="binomial")
    priors_b = default_priors(design_b).updated({
        "(Intercept)": bm.prior.Normal(0, 1), "x": bm.prior.Normal(0, 1), "sd(g:(Intercept))": bm.prior.HalfNormal(1)})
    g3, h3 = np.repeat(np.arange(6), 10), np.tile(np.repeat(np.arange(5), 2), 6)
    crossed = pd.DataFrame({"x": rng.normal(size=g3.size), "g": [f"g{i}" for i in g3], "h": [f"h{i}" for i in h3],
                            "y": rng.normal(size=g3.size)})
    design_c = build_design("y ~ x + (1 | g) + (1 | h)", crossed)
    priors_c = default_priors(design_c).updated({
        "(Intercept)": bm.prior.Normal(0, 1), "x": bm.prior.Normal(0, 1), "sigma": bm.prior.HalfNormal(1),
        "sd(g:(Intercept))": bm.prior.HalfNormal(1), "sd(h:(Intercept))": bm.prior.HalfNormal(1)})
    return {"gaussian": (design, priors), "gaussian crossed": (design_c, priors_c), "binomial": (design_b, priors_b)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--simulations", type=int, default=200)
    parser.add_argument("--full", action="store_true", help="also the gaussian model on the full non-centred route")
    args = parser.parse_args()
    runs = [(name, design, priors, None) for name, (design, priors) in sbc_designs().items()]
    if args.full:
        design, priors = sbc_designs()["gaussian"]
        runs.append(("gaussian (full route)", design, priors, False))
    for name, design, priors, marginalize in runs:
        started = time.perf_counter()
        result = simulation_based_calibration(design, priors, args.simulations, marginalize=marginalize)
        print(f"\n{name}: {design.formula}; {args.simulations} simulations, ranks among 99 posterior draws "
              f"({time.perf_counter() - started:.0f} s)")
        print("rank histogram (10 bins; uniform expects", args.simulations // 10, "per bin):")
        print(result.histograms().T.to_string())
        print(result.chi_square().round(4).to_string())


if __name__ == "__main__":
    main()
