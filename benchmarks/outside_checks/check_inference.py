"""Compare bayesmixed.inference with lme4/pbkrtest on the outside data written by inference_reference.R.

    Rscript benchmarks/outside_checks/inference_reference.R /tmp/outside
    python benchmarks/outside_checks/check_inference.py /tmp/outside
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayesmixed as bm
from bayesmixed.inference import confint


def fit(formula: str, data: pd.DataFrame, family: str):
    if family == "gaussian":
        return bm.lmer(formula, data)
    return bm.glmer(formula, data, family)


def main(directory: Path) -> None:
    checks = json.loads((directory / "reference.json").read_text())
    for check in checks.values():
        # R's factors that look numeric in a CSV (cake's temperature, grouseticks' YEAR) stay factors here
        data = pd.read_csv(directory / f"{check['data']}.csv", dtype={"temperature": str, "YEAR": str})
        print(f"== {check['id']}: {check.get('small', '')}  vs  {check['big']}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            big = fit(check["big"], data, check["family"])
            small = fit(check["small"], data, check["family"]) if "small" in check else None
        if "anova" in check:
            row = bm.anova(small, big).iloc[1]
            expected = check["anova"]
            print(f"   LRT chisq {row['chisq']:.6f} (lme4 {expected['chisq']:.6f}, diff {row['chisq'] - expected['chisq']:.1e})"
                  f"  p {row['p']:.4g} (lme4 {expected['p']:.4g})")
        if "profile" in check:
            started = time.perf_counter()
            ours = confint(big, method="profile", old_names=False)
            seconds = time.perf_counter() - started
            expected = check["profile"]
            table = pd.DataFrame({"lower": ours.iloc[:, 0], "lme4 lower": expected["lower"],
                                  "upper": ours.iloc[:, 1], "lme4 upper": expected["upper"]}, index=expected["names"])
            print(f"   profile intervals ({seconds:.1f} s):")
            print("   " + table.to_string(float_format=lambda v: f"{v:.5g}").replace("\n", "\n   "))
        if "p_pbkrtest" in check:
            small_ml = bm.lmer(check["small"], data, REML=False)
            big_ml = bm.lmer(check["big"], data, REML=False)
            started = time.perf_counter()
            result = bm.bootstrap_lrt(small_ml, big_ml, n=check["nsim"], seed=7, progress=False)
            seconds = time.perf_counter() - started
            print(f"   bootstrap: stat {result.stat:.5f} (pbkrtest {check['stat']:.5f}); p {result.p_value:.4f} ± "
                  f"{result.mc_se:.4f}, pbkrtest's (1 + #(T* > T)) / (1 + #(T* > 0)) on ours "
                  f"{(1 + np.sum(result.simulated > result.stat)) / (1 + np.sum(result.simulated > 1e-8)):.4f} "
                  f"(pbkrtest {check['p_pbkrtest']:.4f}); {check['nsim']} simulations in "
                  f"{seconds:.1f} s (pbkrtest {check['seconds']:.1f} s); failed refits {result.n_failed}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
