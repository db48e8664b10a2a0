"""Bayesian engine speed: min bulk ESS per wall second of the whole fit, beside bambi and the issue's anchors.

Each measurement runs in a fresh Python process and times fit_bayes(...) from the call to the returned
fit (compilation included; data loading, imports and the design excluded, as for the anchors):
  cold  - empty numba cache (NUMBA_CACHE_DIR pointed at a new folder): what a clean clone pays once;
  warm  - the on-disk cache filled by an earlier process: every later fit on any data.
bambi (if installed) gets the same timing: bmb.Model(...).fit(...) including its compilation.

    python benchmarks/bench_bayes.py                 # sleepstudy and sim_slopes, ours cold + warm, bambi
    python benchmarks/bench_bayes.py --insteval      # also InstEval (73k rows, 4,114 random effects), default fit
    python benchmarks/bench_bayes.py --only insteval # InstEval alone
    python benchmarks/bench_bayes.py --backends      # also our PyMC model under pymc / nutpie / numpyro
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORMULA = {"sleepstudy": "Reaction ~ Days + (Days | Subject)", "sim_slopes": "y ~ x + (x | g)",
           "insteval": "y ~ service + (1 | s) + (1 | d) + (1 | dept)"}
# Issue #4 and DESIGN.md §4, measured on this machine's kind (2 cores), 4 chains x 1000 draws after 1000 tuning.
ANCHORS = {
    "sleepstudy": [("bambi 0.17 + PyMC (no correlation)", 85), ("bambi + nutpie (no correlation)", 62),
                   ("bambi + numpyro (no correlation)", 128), ("rstanarm stan_lmer", 45)],
    "sim_slopes": [("bambi 0.17 + nutpie (no correlation)", 22.9), ("bambi + numpyro (no correlation)", 7.9)],
}
TARGET = {"sleepstudy": 1300.0, "sim_slopes": 460.0}

CHILD = r"""
import json, sys, time, warnings
import numpy as np, pandas as pd
import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.engines.bayes import fit_bayes
spec = json.loads(sys.argv[1])
data = bm.datasets.load(spec["data"])  # sim_slopes is regenerated exactly from its seed
if spec["data"] == "insteval":
    data = data.assign(y=data["y"].astype(float))
design = build_design(spec["formula"], data)
warnings.simplefilter("ignore")
started = time.perf_counter()
fit = fit_bayes(design, seed=1, progressbar=False, **spec["options"])
wall = time.perf_counter() - started
table = fit.parameters
print(json.dumps({"wall": wall, "sampling": fit.timings.get("sampling"), "min_ess": float(table["ess_bulk"].min()),
                  "max_rhat": float(table["r_hat"].max()), "divergences": fit.diagnosis.divergences,
                  "medians": table["median"].round(4).to_dict()}))
"""

BAMBI_CHILD = r"""
import json, sys, time, warnings
import pandas as pd, arviz as az, bambi as bmb
import bayesmixed as bm
spec = json.loads(sys.argv[1])
data = bm.datasets.load(spec["data"])  # sim_slopes is regenerated exactly from its seed
warnings.simplefilter("ignore")
formula = spec["formula"]
started = time.perf_counter()
model = bmb.Model(formula, data)
idata = model.fit(draws=1000, tune=1000, chains=4, random_seed=1, progressbar=False, **spec["options"])
wall = time.perf_counter() - started
ess = az.ess(idata)
print(json.dumps({"wall": wall, "min_ess": float(min(float(ess[v].min()) for v in ess.data_vars))}))
"""


def run_child(code: str, spec: dict, env_extra: dict | None = None, timeout: int = 3600) -> dict:
    env = {**os.environ, **(env_extra or {})}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True, env=env,
                         timeout=timeout, cwd=ROOT)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def line(label: str, result: dict) -> str:
    if "error" in result:
        return f"  {label:<46} failed: {result['error']}"
    rate = result["min_ess"] / result["wall"]
    extra = f"  R-hat {result['max_rhat']:.3f}, divergences {result['divergences']}" if "max_rhat" in result else ""
    sampling = f" (sampling {result['sampling']:.1f} s)" if result.get("sampling") else ""
    return f"  {label:<46} wall {result['wall']:7.2f} s{sampling:<20} min ESS {result['min_ess']:6.0f}  {rate:8.1f} ESS/s{extra}"


def benchmark(name: str, backends: bool, bambi: bool) -> None:
    spec = {"data": name, "formula": FORMULA[name], "options": {}}
    print(f"\n{name}: {FORMULA[name]}  (4 chains x 1000 draws after 1000 tuning; 2 cores here)")
    with tempfile.TemporaryDirectory() as cache:
        cold = run_child(CHILD, spec, {"NUMBA_CACHE_DIR": cache})
        print(line("bayesmixed numba NUTS, cold numba cache", cold))
        warm = run_child(CHILD, spec, {"NUMBA_CACHE_DIR": cache})
        print(line("bayesmixed numba NUTS, warm cache (new process)", warm))
    if "medians" in warm:
        medians = warm["medians"]
        print("  posterior medians: " + ", ".join(f"{k} {v:g}" for k, v in medians.items()))
    if name in TARGET and "error" not in warm:
        rate = warm["min_ess"] / warm["wall"]
        print(f"  target >= {TARGET[name]:.0f} ESS/s: warm {'met' if rate >= TARGET[name] else 'MISSED'} ({rate:.0f}); "
              f"cold {cold['min_ess'] / cold['wall']:.0f} ESS/s" if "error" not in cold else "")
    if backends:
        for sampler in ("pymc", "nutpie", "numpyro"):
            result = run_child(CHILD, {**spec, "options": {"sampler": sampler}})
            print(line(f"bayesmixed PyMC model + {sampler} (full route)", result))
    if bambi:
        if importlib.util.find_spec("bambi") is None:
            print("  bambi not installed: pip install 'bambi==0.17.*' to run it here")
        else:
            for label, options in (("bambi 0.17 + nutpie (no correlation)", {"inference_method": "nutpie"}),
                                   ("bambi 0.17 + PyMC (no correlation)", {})):
                result = run_child(BAMBI_CHILD, {**spec, "options": options})  # bambi 0.17 reads | without correlation
                print(line(label + ", measured now", result))
    for label, rate in ANCHORS.get(name, []):
        print(f"  {label + ' (issue anchor)':<46} {'':>56}{rate:8.1f} ESS/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--insteval", action="store_true", help="also fit InstEval (default fit, beside lme4's REML; minutes)")
    parser.add_argument("--backends", action="store_true", help="also run our PyMC model with pymc, nutpie, numpyro")
    parser.add_argument("--no-bambi", action="store_true", help="skip bambi even when installed")
    parser.add_argument("--only", choices=["sleepstudy", "sim_slopes", "insteval"], help="run one data set")
    args = parser.parse_args()
    for name in ("sleepstudy", "sim_slopes"):
        if args.only in (None, name):
            benchmark(name, args.backends, not args.no_bambi)
    if args.insteval or args.only == "insteval":
        # 4,114 random effects: beyond the joint marginal route's dense algebra, so the blocked marginal route
        spec = {"data": "insteval", "formula": FORMULA["insteval"], "options": {}}
        print(f"\ninsteval: {FORMULA['insteval']}  (default fit: blocked marginal route; 4 chains x 1000 after 1000)")
        lme4 = lme4_insteval_seconds()
        print(f"  {'lme4 lmer REML, same machine (R, in-process)':<46} " +
              (f"wall {lme4:7.2f} s" if lme4 else "Rscript with lme4 not found (apt-get install r-cran-lme4)"))
        result = run_child(CHILD, spec, timeout=7200)
        print(line("bayesmixed default fit, warm cache", result))
        if lme4 and "error" not in result:
            ratio = result["wall"] / lme4
            print(f"  target: within 10x lme4's REML time: {ratio:.1f}x ({'met' if ratio <= 10 else 'MISSED'}); "
                  f"R-hat <= 1.01 and ESS >= 400: {'met' if result['max_rhat'] <= 1.01 and result['min_ess'] >= 400 else 'MISSED'}")


LME4_INSTEVAL = r"""
suppressMessages(library(lme4))
d <- InstEval; d$y <- as.numeric(d$y)
invisible(lmer(y ~ service + (1 | s) + (1 | d) + (1 | dept), d, REML = TRUE))  # warm-up
times <- replicate(3, system.time(lmer(y ~ service + (1 | s) + (1 | d) + (1 | dept), d, REML = TRUE))[["elapsed"]])
cat(median(times), "\n")
"""


def lme4_insteval_seconds() -> float | None:
    """Median of 3 in-process lmer() REML fits of the same model in R, or None without Rscript and lme4."""
    try:
        out = subprocess.run(["Rscript", "-e", LME4_INSTEVAL], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return float(out.stdout.split()[-1]) if out.returncode == 0 and out.stdout.strip() else None


if __name__ == "__main__":
    main()
