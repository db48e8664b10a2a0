"""Fit bambi 0.17 (+ nutpie) on models it can express, with bayesmixed's default priors, and store its posteriors.

    python benchmarks/make_bambi_reference.py            # every case (one bambi fit at a time: minutes each here)
    python benchmarks/make_bambi_reference.py cbpp ...   # only these cases, the others kept from the stored file

bambi is to the Bayesian engine what lme4 is to REML: an independent implementation of the same model. The
priors are taken from `bm.Model(...).priors` and written in bambi's terms, so both sample one posterior:
  Normal(μ, s) on a fixed effect       -> bmb.Prior("Normal", mu=μ, sigma=s) on the common term;
  HalfNormal(s) on sd(g:c)             -> the group-specific term's Normal(0, HalfNormal(s)) (its `c|g_sigma`);
  Exponential(λ) on sigma              -> bmb.Prior("Exponential", lam=λ).
center_predictors=False: with bambi's default centring its Intercept prior would be on the centred intercept,
while ours is on the intercept at x = 0 (bambi's own docstring says so). Both report the intercept at x = 0.

The output, tests/reference/bambi_reference.json, holds per case the formulas, data, priors (as bayesmixed prints
them, so the test can see that today's defaults still match) and per parameter bambi's posterior mean, sd and
mcse of the mean (ArviZ), plus bambi's divergences. tests/engines/test_bayes_vs_bambi.py fits ours and compares,
so CI needs no bambi.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "bambi_reference.json"
DRAWS, TUNE, CHAINS, SEED, TARGET_ACCEPT = 2000, 1000, 4, 1, 0.95

# name: data ("bundled name" or a path from the repo root), our formula, bambi's formula, family,
# bambi name of each of our parameters ("name[level]" picks one level of a categorical term)
CASES: dict[str, dict] = {
    "sleepstudy intercepts": {
        "data": "sleepstudy", "family": "gaussian",
        "formula": "Reaction ~ Days + (1 | Subject)",
        "bambi_formula": "Reaction ~ Days + (1 | Subject)",
        "names": {"(Intercept)": "Intercept", "Days": "Days", "sigma": "sigma",
                  "sd(Subject:(Intercept))": "1|Subject_sigma"},
    },
    "sleepstudy uncorrelated slopes": {
        "data": "sleepstudy", "family": "gaussian",
        "formula": "Reaction ~ Days + (Days || Subject)",
        "bambi_formula": "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
        "names": {"(Intercept)": "Intercept", "Days": "Days", "sigma": "sigma",
                  "sd(Subject:(Intercept))": "1|Subject_sigma", "sd(Subject:Days)": "Days|Subject_sigma"},
    },
    "penicillin crossed": {
        "data": "penicillin", "family": "gaussian",
        "formula": "diameter ~ 1 + (1 | plate) + (1 | sample)",
        "bambi_formula": "diameter ~ 1 + (1 | plate) + (1 | sample)",
        "names": {"(Intercept)": "Intercept", "sigma": "sigma",
                  "sd(plate:(Intercept))": "1|plate_sigma", "sd(sample:(Intercept))": "1|sample_sigma"},
    },
    "cbpp binomial": {
        "data": "cbpp", "family": "binomial",
        "formula": "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        "bambi_formula": "p(incidence, size) ~ period + (1 | herd)",
        "names": {"(Intercept)": "Intercept", "period2": "period[2]", "period3": "period[3]", "period4": "period[4]",
                  "sd(herd:(Intercept))": "1|herd_sigma"},
    },
    "counts poisson": {
        "data": "models/data/counts.csv", "family": "poisson",
        "formula": "count ~ x + (1 | site)",
        "bambi_formula": "count ~ x + (1 | site)",
        "names": {"(Intercept)": "Intercept", "x": "x", "sd(site:(Intercept))": "1|site_sigma"},
    },
}


def load_data(source: str) -> pd.DataFrame:
    """A bundled data set by name, or a CSV path relative to the repository root."""
    import bayesmixed as bm

    if source.endswith(".csv"):
        return pd.read_csv(ROOT / source)
    return bm.datasets.load(source)


def posterior_summary(draws: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Mean, sd and mcse of the mean (ArviZ) of each (chain, draw) array."""
    import arviz as az

    table = az.summary(az.convert_to_dataset({k: np.asarray(v, float) for k, v in draws.items()}),
                       kind="all", round_to="none")
    return {name: {"mean": float(table.loc[name, "mean"]), "sd": float(table.loc[name, "sd"]),
                   "mcse_mean": float(table.loc[name, "mcse_mean"]), "ess_bulk": float(table.loc[name, "ess_bulk"]),
                   "r_hat": float(table.loc[name, "r_hat"])} for name in draws}


def bambi_priors(case: dict, priors) -> dict:
    """bayesmixed's priors (a PriorSet) as bambi's priors dictionary, per the table in the module docstring."""
    import bambi as bmb

    def converted(prior):
        if prior.family == "Normal":
            return bmb.Prior("Normal", mu=prior.param("mu"), sigma=prior.param("sigma"))
        if prior.family == "HalfNormal":
            return bmb.Prior("HalfNormal", sigma=prior.param("sigma"))
        if prior.family == "Exponential":
            return bmb.Prior("Exponential", lam=prior.param("lam"))
        raise ValueError(f"no bambi counterpart written for {prior!r}")

    result: dict = {}
    categorical: dict[str, list[tuple[str, object]]] = {}
    for ours, theirs in case["names"].items():
        prior = priors[ours]
        if theirs.endswith("_sigma"):  # a group-specific term: Normal(0, its sd), the sd with our prior
            result[theirs.removesuffix("_sigma")] = bmb.Prior("Normal", mu=0.0, sigma=converted(prior))
        elif "[" in theirs:
            term = theirs.split("[")[0]
            categorical.setdefault(term, []).append((theirs, prior))
        else:
            result[theirs] = converted(prior)
    for term, levels in categorical.items():  # one Normal per level, in the order of the term's dummy columns
        result[term] = bmb.Prior("Normal", mu=np.array([p.param("mu") for _, p in levels]),
                                 sigma=np.array([p.param("sigma") for _, p in levels]))
    return result


def bambi_draws(idata, names: dict[str, str]) -> dict[str, np.ndarray]:
    """Our parameter name -> bambi's (chain, draw) draws of the same quantity."""
    posterior = idata.posterior
    out = {}
    for ours, theirs in names.items():
        if "[" in theirs:
            term, level = theirs[:-1].split("[")
            values = posterior[term]
            dim = [d for d in values.dims if d not in ("chain", "draw")][0]
            out[ours] = values.sel({dim: level}).values
        else:
            out[ours] = posterior[theirs].values
    return out


def fit_case(name: str) -> dict:
    import bambi as bmb

    import bayesmixed as bm

    case = CASES[name]
    data = load_data(case["data"])
    priors = bm.Model(case["formula"], data, family=case["family"]).priors
    frame = data.copy()
    for column in frame.columns:  # bambi treats a category or object column as a factor, like ours
        if str(frame[column].dtype) == "category":
            frame[column] = frame[column].astype(str)
    their_priors = bambi_priors(case, priors)
    model = bmb.Model(case["bambi_formula"], frame, family=case["family"], priors=their_priors, center_predictors=False)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = model.fit(draws=DRAWS, tune=TUNE, chains=CHAINS, random_seed=SEED, inference_method="nutpie",
                          target_accept=TARGET_ACCEPT, progressbar=False)
    wall = time.perf_counter() - started
    divergences = int(idata.sample_stats["diverging"].values.sum())
    print(f"{name}: {wall:.0f} s, {divergences} divergences")
    return {**{k: case[k] for k in ("data", "family", "formula", "bambi_formula", "names")},
            "priors": {entry.name: repr(entry.prior) for entry in priors},
            "bambi_priors": {k: str(v) for k, v in their_priors.items()},
            "sampler": f"bambi {bmb.__version__} + nutpie, {CHAINS} chains x {DRAWS} draws after {TUNE} tuning, "
                       f"target_accept {TARGET_ACCEPT}, center_predictors=False, seed {SEED}",
            "divergences": divergences, "wall_s": round(wall, 1),
            "posterior": posterior_summary(bambi_draws(idata, case["names"]))}


def main(names: list[str]) -> None:
    import bambi as bmb

    stored = json.loads(REFERENCE.read_text()) if REFERENCE.exists() else {}
    cases = stored.get("cases", {})
    for name in names or list(CASES):
        if name not in CASES:
            raise SystemExit(f"unknown case {name!r}; cases: {', '.join(CASES)}")
        cases[name] = fit_case(name)
        REFERENCE.write_text(json.dumps({"bambi_version": bmb.__version__, "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
