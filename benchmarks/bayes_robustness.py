"""Does the default Bayesian fit sample cleanly on every random-effects structure the lecture names?

For each structure (bundled data, or data simulated here with known parameters), fit_bayes(design, seed=1) with
the defaults (4 chains x 1000 draws after 1000 tuning) and print: wall time of the fit (warm numba cache; the
first row also pays for any compilation), route, divergences, max R-hat and min bulk / tail ESS over every
parameter *and every random effect* (γ draws), with bambi 0.17 + nutpie's figures beside.

The goal (issue #10): 0 divergences, R-hat <= 1.01, bulk and tail ESS >= 400 everywhere. A default fit that
diverges at target_accept 0.8 is sampled again at 0.95, then 0.99 (fit.TARGET_ACCEPT_STEPS); the row says so.

    python benchmarks/bayes_robustness.py                  # every row; bambi from the stored JSON if present
    python benchmarks/bayes_robustness.py --gaussian       # the Gaussian rows only
    python benchmarks/bayes_robustness.py --only pastes penicillin
    python benchmarks/bayes_robustness.py --with-bambi     # also run bambi + nutpie now and store its figures
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BAMBI_STORE = Path(__file__).with_name("bayes_robustness_bambi.json")


def one_way_at_zero() -> pd.DataFrame:
    """Dyestuff2-like: 6 batches x 5, no between-batch variance at all (REML puts sd(Batch) at 0)."""
    rng = np.random.default_rng(11)
    batch = np.repeat([f"B{i}" for i in range(6)], 5)
    return pd.DataFrame({"Yield": 5.6 + 3.7 * rng.standard_normal(30), "Batch": batch})


def machines_like() -> pd.DataFrame:
    """nlme's Machines: 6 workers x 3 machines x 3 repeats; sd(Worker) 5, sd(Worker:Machine) 3.7, σ 0.96."""
    rng = np.random.default_rng(12)
    worker, machine = np.meshgrid(np.arange(6), np.arange(3), indexing="ij")
    worker, machine = np.repeat(worker.ravel(), 3), np.repeat(machine.ravel(), 3)
    u_worker, u_cell = 5.0 * rng.standard_normal(6), 3.7 * rng.standard_normal((6, 3))
    score = np.array([52.4, 60.3, 66.3])[machine] + u_worker[worker] + u_cell[worker, machine] + 0.96 * rng.standard_normal(worker.size)
    return pd.DataFrame({"score": score, "Worker": [f"W{w}" for w in worker], "Machine": [f"M{m}" for m in machine]})


def oats_like() -> pd.DataFrame:
    """nlme's Oats split-plot: 6 blocks, 3 varieties on whole plots, 4 nitrogen levels on sub-plots."""
    rng = np.random.default_rng(13)
    block, variety, nitro = np.meshgrid(np.arange(6), np.arange(3), np.array([0.0, 0.2, 0.4, 0.6]), indexing="ij")
    block, variety, nitro = block.ravel(), variety.ravel(), nitro.ravel()
    u_block, u_plot = 14.5 * rng.standard_normal(6), 11.0 * rng.standard_normal((6, 3))
    yield_ = (82.4 + 73.7 * nitro + np.array([0.0, 5.3, -6.9])[variety] + u_block[block] + u_plot[block, variety]
              + 12.75 * rng.standard_normal(block.size))
    return pd.DataFrame({"yield": yield_, "nitro": nitro, "Block": [f"B{b}" for b in block],
                         "Variety": [f"V{v}" for v in variety]})


def orthodont_like() -> pd.DataFrame:
    """nlme's Orthodont: 16 boys and 11 girls measured at ages 8-14; (age | Subject) with sd 2.3 and 0.23, cor −0.6."""
    rng = np.random.default_rng(14)
    subjects, ages = 27, np.array([8.0, 10.0, 12.0, 14.0])
    male = np.arange(subjects) < 16
    sd, cor = np.array([2.3, 0.23]), -0.6
    cov = np.outer(sd, sd) * np.array([[1.0, cor], [cor, 1.0]])
    u = rng.standard_normal((subjects, 2)) @ np.linalg.cholesky(cov).T
    subject = np.repeat(np.arange(subjects), 4)
    age = np.tile(ages, subjects)
    sex = male[subject]
    distance = 17.4 + 0.48 * age - 1.0 * sex + 0.3 * age * sex + u[subject, 0] + u[subject, 1] * age + 1.3 * rng.standard_normal(age.size)
    return pd.DataFrame({"distance": distance, "age": age, "Sex": np.where(sex, "Male", "Female"),
                         "Subject": [f"S{s}" for s in subject]})


def poisson_two_terms() -> pd.DataFrame:
    """Counts at 30 sites over 8 years (crossed), sd(site) 0.5, sd(year) 0.3, log-mean 1.5 + 0.4 x."""
    rng = np.random.default_rng(15)
    site, year = np.meshgrid(np.arange(30), np.arange(8), indexing="ij")
    site, year = site.ravel(), year.ravel()
    x = rng.standard_normal(site.size)
    eta = 1.5 + 0.4 * x + 0.5 * rng.standard_normal(30)[site] + 0.3 * rng.standard_normal(8)[year]
    return pd.DataFrame({"count": rng.poisson(np.exp(eta)), "x": x, "site": [f"s{s}" for s in site],
                         "year": [f"y{t}" for t in year]})


def large_crossed_one_at_zero() -> pd.DataFrame:
    """4,000 rows: 200 subjects x 100 items crossed (sd 0.8 and 0.5), and a 6-level block factor with no variance at
    all: 306 random effects, beyond the joint route's dense algebra (the blocked marginal route)."""
    rng = np.random.default_rng(16)
    n = 4000
    subject, item, block = rng.integers(0, 200, n), rng.integers(0, 100, n), rng.integers(0, 6, n)
    x = rng.standard_normal(n)
    y = (2.0 + 0.5 * x + 0.8 * rng.standard_normal(200)[subject] + 0.5 * rng.standard_normal(100)[item]
         + rng.standard_normal(n))
    return pd.DataFrame({"y": y, "x": x, "subject": [f"s{i}" for i in subject], "item": [f"i{i}" for i in item],
                         "block": [f"b{i}" for i in block]})



def labels(prefix: str, codes: np.ndarray) -> list[str]:
    return [f"{prefix}{c}" for c in codes]


def factor_valued() -> pd.DataFrame:
    """(0 + f | g): a 3-level factor's effects per group, correlated 0.3-0.6, sd 2; 20 groups x 12 rows."""
    rng = np.random.default_rng(100)
    g, f = np.repeat(np.arange(20), 12), np.tile(np.repeat([0, 1, 2], 4), 20)
    chol = np.linalg.cholesky(np.array([[1.0, 0.6, 0.3], [0.6, 1.0, 0.5], [0.3, 0.5, 1.0]]) * 4.0)
    u = rng.standard_normal((20, 3)) @ chol.T
    y = np.array([10.0, 12.0, 11.0])[f] + u[g, f] + rng.standard_normal(g.size)
    return pd.DataFrame({"y": y, "f": labels("F", f), "g": labels("G", g)})


def bernoulli_slopes() -> pd.DataFrame:
    """Binary outcomes, (x | g): sd 0.89 and 0.55, correlation 0.4; 50 groups x 12 rows."""
    rng = np.random.default_rng(101)
    g = np.repeat(np.arange(50), 12)
    x = rng.standard_normal(g.size)
    u = rng.standard_normal((50, 2)) @ np.linalg.cholesky(np.array([[0.8, 0.2], [0.2, 0.3]])).T
    eta = -0.3 + 0.7 * x + u[g, 0] + u[g, 1] * x
    return pd.DataFrame({"y": (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(float), "x": x, "g": labels("G", g)})


def poisson_uncorrelated() -> pd.DataFrame:
    """Poisson (x || g): sd 0.5 and 0.3; 40 groups x 8 rows."""
    rng = np.random.default_rng(100)
    g = np.repeat(np.arange(40), 8)
    x = rng.uniform(-1, 1, g.size)
    eta = 1.0 + 0.4 * x + 0.5 * rng.standard_normal(40)[g] + 0.3 * rng.standard_normal(40)[g] * x
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "g": labels("G", g)})


def binomial_at_zero() -> pd.DataFrame:
    """Binary outcomes with no group variance at all; 15 groups x 20 rows."""
    rng = np.random.default_rng(100)
    g = np.repeat(np.arange(15), 20)
    x = rng.standard_normal(g.size)
    y = (rng.random(g.size) < 1 / (1 + np.exp(-(0.2 + 0.5 * x)))).astype(float)
    return pd.DataFrame({"y": y, "x": x, "g": labels("G", g)})


def poisson_few_groups() -> pd.DataFrame:
    """Poisson (1 | g) with 5 groups of 10 rows, sd 0.4: the sd's posterior reaches into the funnel's neck."""
    rng = np.random.default_rng(100)
    g = np.repeat(np.arange(5), 10)
    return pd.DataFrame({"y": rng.poisson(np.exp(0.5 + 0.4 * rng.standard_normal(5)[g])), "g": labels("G", g)})


def poisson_nested() -> pd.DataFrame:
    """Poisson (1 | a/b): 8 groups, 4 subgroups each, 6 rows a subgroup; sd 0.6 and 0.3."""
    rng = np.random.default_rng(100)
    a, b = np.repeat(np.arange(8), 24), np.tile(np.repeat(np.arange(4), 6), 8)
    eta = 1.5 + 0.6 * rng.standard_normal(8)[a] + 0.3 * rng.standard_normal((8, 4))[a, b]
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "a": labels("A", a), "b": labels("B", b)})


def poisson_slopes_singular() -> pd.DataFrame:
    """Poisson (x | g), sd 0.5 and 0.3, whose Laplace fit puts the correlation at +1; 30 groups x 6 rows."""
    rng = np.random.default_rng(200)
    g = np.repeat(np.arange(30), 6)
    x = rng.uniform(-1, 1, g.size)
    u = rng.standard_normal((30, 2)) @ np.linalg.cholesky(np.array([[0.25, 0.05], [0.05, 0.09]])).T
    return pd.DataFrame({"y": rng.poisson(np.exp(0.8 + 0.3 * x + u[g, 0] + u[g, 1] * x)), "x": x, "g": labels("G", g)})


def binomial_counts_slopes() -> pd.DataFrame:
    """cbind(k, n - k) ~ x + (x | g) with 8 groups x 6 rows of 5-29 trials; sd 0.7 and 0.4, uncorrelated."""
    rng = np.random.default_rng(200)
    g, x = np.repeat(np.arange(8), 6), np.tile(np.linspace(-1, 1, 6), 8)
    trials = rng.integers(5, 30, g.size)
    u = rng.standard_normal((8, 2)) * [0.7, 0.4]
    k = rng.binomial(trials, 1 / (1 + np.exp(-(0.2 + 0.8 * x + u[g, 0] + u[g, 1] * x))))
    return pd.DataFrame({"k": k, "failures": trials - k, "n": trials, "x": x, "g": labels("G", g)})

def bundled(name: str):
    def load() -> pd.DataFrame:
        import bayesmixed as bm

        return bm.datasets.load(name)
    return load


def cbpp() -> pd.DataFrame:
    data = bundled("cbpp")()
    return data.assign(healthy=data["size"] - data["incidence"])


# name: (formula, family, data, bambi formula or None when bambi cannot express it)
STRUCTURES = {
    "sleepstudy (Days | Subject)": ("Reaction ~ Days + (Days | Subject)", "gaussian", bundled("sleepstudy"), None),
    "sleepstudy (Days || Subject)": ("Reaction ~ Days + (Days || Subject)", "gaussian", bundled("sleepstudy"),
                                     "Reaction ~ Days + (Days | Subject)"),
    "one-way, variance at 0 (sim)": ("Yield ~ 1 + (1 | Batch)", "gaussian", one_way_at_zero, "Yield ~ 1 + (1 | Batch)"),
    "penicillin crossed": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "gaussian", bundled("penicillin"),
                           "diameter ~ 1 + (1 | plate) + (1 | sample)"),
    "pastes nested": ("strength ~ 1 + (1 | batch/cask)", "gaussian", bundled("pastes"), "strength ~ 1 + (1 | batch/cask)"),
    "Machines-like (1 | Worker/Machine) (sim)": ("score ~ Machine + (1 | Worker/Machine)", "gaussian", machines_like,
                                                 "score ~ Machine + (1 | Worker/Machine)"),
    "Oats-like split-plot (sim)": ("yield ~ nitro + Variety + (1 | Block/Variety)", "gaussian", oats_like,
                                   "yield ~ nitro + Variety + (1 | Block/Variety)"),
    "Orthodont-like (age | Subject) (sim)": ("distance ~ age * Sex + (age | Subject)", "gaussian", orthodont_like, None),
    "cbpp binomial (1 | herd)": ("cbind(incidence, healthy) ~ period + (1 | herd)", "binomial", cbpp,
                                 "p(incidence, size) ~ period + (1 | herd)"),
    "Poisson crossed (1 | site) + (1 | year) (sim)": ("count ~ x + (1 | site) + (1 | year)", "poisson", poisson_two_terms,
                                                      "count ~ x + (1 | site) + (1 | year)"),
    "large crossed + a block at zero, 306 effects (sim)": ("y ~ x + (1 | subject) + (1 | item) + (1 | block)", "gaussian",
                                                          large_crossed_one_at_zero,
                                                          "y ~ x + (1 | subject) + (1 | item) + (1 | block)"),
    "verbagg crossed binomial": ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "binomial",
                                 bundled("verbagg"), None),
    "factor-valued (0 + f | g) (sim)": ("y ~ f + (0 + f | g)", "gaussian", factor_valued, None),
    "binomial 0/1 (x | g) (sim)": ("y ~ x + (x | g)", "binomial", bernoulli_slopes, None),
    "Poisson (x || g) (sim)": ("y ~ x + (x || g)", "poisson", poisson_uncorrelated, "y ~ x + (x | g)"),
    "binomial 0/1 (1 | g), sd simulated at 0 (sim)": ("y ~ x + (1 | g)", "binomial", binomial_at_zero, "y ~ x + (1 | g)"),
    "Poisson (1 | g), 5 groups of 10 (sim)": ("y ~ 1 + (1 | g)", "poisson", poisson_few_groups, "y ~ 1 + (1 | g)"),
    "Poisson nested (1 | a/b) (sim)": ("y ~ 1 + (1 | a/b)", "poisson", poisson_nested, "y ~ 1 + (1 | a/b)"),
    "Poisson (x | g), Laplace fit singular (sim)": ("y ~ x + (x | g)", "poisson", poisson_slopes_singular, None),
    "binomial counts (x | g), 8 groups (sim)": ("cbind(k, failures) ~ x + (x | g)", "binomial", binomial_counts_slopes,
                                                None),
}
SLOW = {"verbagg crossed binomial"}


def all_diagnostics(fit) -> dict:
    """Max R-hat and min bulk / tail ESS over the parameters and every random effect's γ draws."""
    from bayesmixed.engines.bayes.diagnostics import ess_bulk, ess_tail, rhat
    from bayesmixed.engines.bayes.sample_stats import DIVERGING

    table = fit.parameters
    r_hat, bulk, tail = [table["r_hat"].max()], [table["ess_bulk"].min()], [table["ess_tail"].min()]
    shape = (fit.n_chains, fit.n_draws)
    for gamma in fit.ranef_samples:
        columns = gamma.reshape(shape + (-1,))
        for j in range(columns.shape[-1]):
            chain_draws = columns[..., j]
            r_hat.append(rhat(chain_draws))
            bulk.append(ess_bulk(chain_draws))
            tail.append(ess_tail(chain_draws))
    return {"max_rhat": float(np.nanmax(r_hat)), "min_bulk": float(np.nanmin(bulk)), "min_tail": float(np.nanmin(tail)),
            "divergences": int(fit.sample_stats[..., DIVERGING].sum())}


def run_ours(name: str) -> dict:
    from bayesmixed.design import build_design
    from bayesmixed.engines.bayes import fit_bayes

    formula, family, data, _ = STRUCTURES[name]
    design = build_design(formula, data(), family=family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        fit = fit_bayes(design, seed=1, progressbar=False, warn=False)
        wall = time.perf_counter() - started
    return {"wall": wall, "route": fit.route, "target_accept": fit.timings.get("target_accept"),
            "diverged_runs": fit.diverged_runs, **all_diagnostics(fit)}


BAMBI_CHILD = r"""
import json, sys, time, warnings
import numpy as np, arviz as az, bambi as bmb
sys.path.insert(0, sys.argv[2])
import bayes_robustness as br
name = json.loads(sys.argv[1])
formula, family, data, bambi_formula = br.STRUCTURES[name]
warnings.simplefilter("ignore")
frame = data()
started = time.perf_counter()
binary = family == "binomial" and not bambi_formula.startswith("p(")  # 0/1 outcomes: bambi's bernoulli
model = bmb.Model(bambi_formula, frame, family="bernoulli" if binary else family)
idata = model.fit(draws=1000, tune=1000, chains=4, random_seed=1, inference_method="nutpie", progressbar=False)
wall = time.perf_counter() - started
post = idata.posterior[[v for v in idata.posterior.data_vars if not v.endswith("_mean")]]
rhat, bulk, tail = az.rhat(post), az.ess(post, method="bulk"), az.ess(post, method="tail")
low = lambda d: float(min(float(d[v].min()) for v in d.data_vars))
print(json.dumps({"wall": wall, "divergences": int(idata.sample_stats["diverging"].sum()),
                  "max_rhat": float(max(float(rhat[v].max()) for v in rhat.data_vars)),
                  "min_bulk": low(bulk), "min_tail": low(tail)}))
"""


def run_bambi(name: str) -> dict:
    if STRUCTURES[name][3] is None:
        return {"error": "not expressible in bambi 0.17 (correlated terms)"}
    out = subprocess.run([sys.executable, "-c", BAMBI_CHILD, json.dumps(name), str(Path(__file__).parent)],
                         capture_output=True, text=True, timeout=3600, cwd=ROOT)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def cells(result: dict | None) -> str:
    if result is None:
        return "not run"
    if "error" in result:
        return result["error"]
    clean = (result["divergences"] == 0 and result["max_rhat"] <= 1.01 and min(result["min_bulk"], result["min_tail"]) >= 400)
    return (f"{result['wall']:6.1f} s  div {result['divergences']:4d}  R-hat {result['max_rhat']:.3f}  "
            f"ESS bulk {result['min_bulk']:5.0f} tail {result['min_tail']:5.0f}  {'clean' if clean else 'NOT CLEAN'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gaussian", action="store_true", help="the Gaussian rows only")
    parser.add_argument("--only", nargs="+", help="rows whose name contains any of these words")
    parser.add_argument("--slow", action="store_true", help="include verbagg (7,584 rows; minutes)")
    parser.add_argument("--with-bambi", action="store_true", help="run bambi 0.17 + nutpie now and store its figures")
    args = parser.parse_args()
    names = [n for n in STRUCTURES if (args.slow or n not in SLOW)
             and (not args.gaussian or STRUCTURES[n][1] == "gaussian")
             and (not args.only or any(word.lower() in n.lower() for word in args.only))]
    stored = json.loads(BAMBI_STORE.read_text()) if BAMBI_STORE.exists() else {}
    print("default fit_bayes(seed=1): 4 chains x 1000 draws after 1000 tuning; diagnostics over every parameter and "
          "random effect\n")
    for name in names:
        ours = run_ours(name)
        if args.with_bambi:
            stored[name] = run_bambi(name)
            BAMBI_STORE.write_text(json.dumps(stored, indent=1, sort_keys=True))
        print(f"{name}  [{STRUCTURES[name][0]}]")
        again = "".join(f", sampled again after {count} divergences at {accept:g}" for accept, count in ours["diverged_runs"])
        accept = f"; target_accept {ours['target_accept']:g}{again}" if ours["target_accept"] else ""
        print(f"  bayesmixed ({ours['route']} route{accept}): {cells(ours)}")
        print(f"  bambi 0.17 + nutpie{' (stored)' if not args.with_bambi and name in stored else ''}: {cells(stored.get(name))}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
