"""Notebook 03: ML vs REML (and REML as a flat-prior marginal likelihood)."""

# %% [markdown]
# # 3. ML vs REML
#
# The unconditional form of the linear mixed model is $y \sim N(X\beta,\ \sigma^2 V)$ with
# $V = I + ZDZ'$, so the likelihood is the lecture's
#
# $$\log L(\beta, \sigma, D) = -\tfrac{n}{2}\log 2\pi - \tfrac12\log|\sigma^2 V| - \tfrac{1}{2\sigma^2}(y - X\beta)'V^{-1}(y - X\beta).$$
#
# Maximising it (ML) gives **biased variance estimates**. The simplest case shows why: for iid normal
# data the ML variance is $\frac1n\sum(y_i - \bar y)^2$, too small on average by the factor $\frac{n-1}{n}$,
# because $\bar y$ was fitted to the same data. ML treats $\hat\beta$ as if it were the true $\beta$.
#
# **REML** (restricted or residual ML) removes $\beta$ first: take all linear combinations $k'y$ with
# $k'X = 0$, collected as the columns of $K$; then $K'y \sim N(0, \sigma^2 K'VK)$ does not depend on
# $\beta$, and we maximise its likelihood in $\sigma$ and $D$ only. This notebook shows the bias and its
# correction in a simulation, then shows that REML is also the likelihood with $\beta$ **integrated out
# under a flat prior**, the bridge to the Bayesian fits of notebook 04.

# %%
import json
import os
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import integrate, linalg, optimize

import bayesmixed as bm

# Monte Carlo size: posterior draws per chain; a fifth of it simulated data sets (the test suite sets it small).
N_MC = int(os.environ.get("BAYESMIXED_NOTEBOOK_DRAWS", 1000))
N_SIMULATIONS = max(40, N_MC // 5)
print(f"posterior draws per chain: {N_MC}; simulated data sets: {N_SIMULATIONS}")

# %% [markdown]
# ## A simulation: small data, many data sets
#
# Six groups of four observations, a covariate $x$ within each group, and true values
# $\sigma_\alpha^2 = 1$, $\sigma^2 = 1$:
#
# $$y_{ij} = 1 + 0.5\,x_{ij} + \alpha_i + \varepsilon_{ij}.$$
#
# Each simulated data set is fitted twice, by ML and by REML (one design, `Model.fit("ml")` and
# `Model.fit("reml")`).

# %%
TRUE_BETWEEN, TRUE_RESIDUAL = 1.0, 1.0
groups, per_group = 6, 4
layout = pd.DataFrame({"group": np.repeat([f"g{i}" for i in range(groups)], per_group),
                       "x": np.tile(np.arange(per_group, dtype=float), groups)})
rng = np.random.default_rng(2024)
rows = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # singular fits (a variance at 0) are expected with 6 groups
    for simulation in range(N_SIMULATIONS):
        alpha = rng.normal(0, np.sqrt(TRUE_BETWEEN), groups)
        y = 1 + 0.5 * layout["x"] + np.repeat(alpha, per_group) + rng.normal(0, np.sqrt(TRUE_RESIDUAL), len(layout))
        model = bm.Model("y ~ x + (1 | group)", layout.assign(y=y))
        for method in ("ml", "reml"):
            between, residual = model.fit(method).varcorr["vcov"]
            rows.append({"simulation": simulation, "method": method.upper(), "between": between, "residual": residual})
simulated = pd.DataFrame(rows)
simulated.head(4)

# %%
mean = simulated.groupby("method")[["between", "residual"]].mean()
mc_se = simulated.groupby("method")[["between", "residual"]].std() / np.sqrt(N_SIMULATIONS)
summary = pd.DataFrame({
    "mean sigma_alpha^2": mean["between"], "MC se (sigma_alpha^2)": mc_se["between"],
    "mean sigma^2": mean["residual"], "MC se (sigma^2)": mc_se["residual"],
})
summary.loc["truth"] = [TRUE_BETWEEN, np.nan, TRUE_RESIDUAL, np.nan]
summary.round(3)

# %%
wide = simulated.pivot(index="simulation", columns="method", values="between")
figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
bins = np.linspace(0, np.quantile(simulated["between"], 0.98), 30)
for method, color in (("ML", "C0"), ("REML", "C1")):
    left.hist(wide[method], bins=bins, alpha=0.55, color=color, label=f"{method}: mean {wide[method].mean():.2f}")
left.axvline(TRUE_BETWEEN, color="k", lw=1.5, label="true value")
left.set_xlabel(r"estimated $\sigma_\alpha^2$")
left.set_title(f"{N_SIMULATIONS} simulated data sets")
left.legend(fontsize="small")
right.scatter(wide["ML"], wide["REML"], s=10)
limit = wide.to_numpy().max()
right.plot([0, limit], [0, limit], color="grey", lw=1, label="REML = ML")
right.set_xlabel(r"ML $\hat\sigma_\alpha^2$")
right.set_ylabel(r"REML $\hat\sigma_\alpha^2$")
right.set_title("the same data set, fitted both ways")
right.legend(fontsize="small");

# %% [markdown]
# ML's between-group variance is too small on average; REML's mean is close to the truth. On every
# simulated data set REML's estimate is at least ML's: REML accounts for the degrees of freedom spent on $\hat\beta$.
# The bias is worst with few groups, and it shrinks as the number of groups grows. Both methods hit
# $\hat\sigma_\alpha^2 = 0$ on some data sets (the spike of notebook 02).
#
# ## REML from error contrasts, by hand
#
# Now take one real data set, Dyestuff, and compute both criteria by hand with numpy, straight from the
# lecture's formulas, to see that bayesmixed (like lme4) maximises exactly these. For $\sigma_\alpha,\sigma$
# the covariance of $y$ is $\Sigma = \sigma^2 I + \sigma_\alpha^2 ZZ'$; for REML, $K$ is an orthonormal basis
# of the vectors orthogonal to the columns of $X$.

# %%
dyestuff = bm.datasets.load("dyestuff")
y = dyestuff["Yield"].to_numpy(dtype=float)
X = np.ones((y.size, 1))
Z = pd.get_dummies(dyestuff["Batch"]).to_numpy(dtype=float)
K = linalg.null_space(X.T)  # n x (n - p), K'X = 0, K'K = I


def covariance(log_sds: np.ndarray) -> np.ndarray:
    """Sigma = sigma^2 I + sigma_alpha^2 Z Z' from (log sigma_alpha, log sigma)."""
    sd_between, sd_residual = np.exp(log_sds)
    return sd_residual ** 2 * np.eye(y.size) + sd_between ** 2 * Z @ Z.T


def normal_loglik(residual: np.ndarray, cov: np.ndarray) -> float:
    """log N(residual; 0, cov)."""
    _, logdet = np.linalg.slogdet(cov)
    return -0.5 * (residual.size * np.log(2 * np.pi) + logdet + residual @ np.linalg.solve(cov, residual))


def ml_loglik(log_sds: np.ndarray) -> float:
    """log L with beta at its generalised least squares estimate for these variances (profiled)."""
    cov = covariance(log_sds)
    beta = np.linalg.solve(X.T @ np.linalg.solve(cov, X), X.T @ np.linalg.solve(cov, y))
    return normal_loglik(y - X @ beta, cov)


def contrast_loglik(log_sds: np.ndarray) -> float:
    """log-likelihood of the error contrasts K'y ~ N(0, K' Sigma K)."""
    return normal_loglik(K.T @ y, K.T @ covariance(log_sds) @ K)


start = np.log([40.0, 50.0])
by_hand = {}
for name, loglik in (("ML", ml_loglik), ("REML", contrast_loglik)):
    best = optimize.minimize(lambda v: -loglik(v), start, method="Nelder-Mead",
                             options={"xatol": 1e-9, "fatol": 1e-12, "maxiter": 4000})
    by_hand[name] = np.exp(best.x)
ml, reml = bm.lmer("Yield ~ 1 + (1 | Batch)", dyestuff, REML=False), bm.lmer("Yield ~ 1 + (1 | Batch)", dyestuff)
comparison = pd.DataFrame({
    "by hand: sigma_alpha": [by_hand["ML"][0], by_hand["REML"][0]],
    "bayesmixed: sigma_alpha": [ml.varcorr["sdcor"].iloc[0], reml.varcorr["sdcor"].iloc[0]],
    "by hand: sigma": [by_hand["ML"][1], by_hand["REML"][1]],
    "bayesmixed: sigma": [ml.sigma, reml.sigma],
}, index=["ML", "REML"])
comparison.round(4)

# %% [markdown]
# ## REML is the likelihood with $\beta$ integrated out under a flat prior
#
# Integrate the likelihood over $\beta$ with a flat (constant) prior:
#
# $$L_R(\sigma, D) = \int L(\beta, \sigma, D)\,d\beta = \frac{L(\hat\beta_{GLS}, \sigma, D)\,(2\pi)^{p/2}}{|X'\Sigma^{-1}X|^{1/2}}.$$
#
# This is the REML likelihood up to a constant that does not depend on the variances
# ($\log L_R = \log L_{K'y} - \tfrac12\log|X'X|$), so it has the same maximum. lme4's REML criterion, which
# bayesmixed reproduces, is exactly $-2\log L_R$. Below: the integral done numerically (`scipy.integrate.quad`
# over $\mu$), the closed form, and the criterion of the REML fit, all at the REML estimates.

# %%
def integrated_loglik(log_sds: np.ndarray) -> float:
    """log of the integral of L over beta (flat prior), in closed form."""
    cov = covariance(log_sds)
    _, logdet_information = np.linalg.slogdet(X.T @ np.linalg.solve(cov, X))
    return ml_loglik(log_sds) + 0.5 * X.shape[1] * np.log(2 * np.pi) - 0.5 * logdet_information


at_reml = np.log([reml.varcorr["sdcor"].iloc[0], reml.sigma])
cov_at_reml = covariance(at_reml)
peak = ml_loglik(at_reml)  # scale the integrand so that quad sees numbers near 1
integral, _ = integrate.quad(lambda mu: np.exp(normal_loglik(y - mu, cov_at_reml) - peak), 1300, 1750,
                             epsabs=0, epsrel=1e-12, limit=200)
numeric = peak + np.log(integral)
_, logdet_xtx = np.linalg.slogdet(X.T @ X)
integrals = pd.Series({
    "-2 log(integral), numerically": -2 * numeric,
    "-2 log(integral), closed form": -2 * integrated_loglik(at_reml),
    "-2 log L(K'y) + log|X'X|": -2 * contrast_loglik(at_reml) + logdet_xtx,
    "REML criterion of bm.lmer(...)": reml.objective,
})
integrals.to_frame("value").round(6)

# %% [markdown]
# So a REML estimate is the posterior mode of the variance parameters after integrating out $\beta$ under
# a flat prior (and flat priors on the variances). A Bayesian fit goes one step further: it integrates
# over the variance parameters too, with proper priors, and reports whole posterior distributions rather
# than a mode. Side by side on Dyestuff (profile intervals for ML and REML, 95% credible intervals for
# Bayes):

# %%
bayes = bm.Model("Yield ~ 1 + (1 | Batch)", dyestuff).fit("bayes", draws=N_MC, tune=N_MC, seed=1, progressbar=False)
bm.side_by_side(ml=ml, reml=reml, bayes=bayes)

# %% [markdown]
# ## What to take away
#
# - ML ignores the degrees of freedom used to estimate $\beta$, so its variance components are biased
#   down; REML maximises the likelihood of the error contrasts $K'y$ instead and removes most of the bias.
# - REML's likelihood is the ML likelihood with $\beta$ integrated out under a flat prior.
# - Because $K$ depends on $X$, REML likelihoods of models with **different fixed effects** are
#   likelihoods of different data: compare such models with ML fits (notebook 06).
#
# ## The lessons, as numbers

# %%
lessons = {
    "monte_carlo_size": N_MC,
    "simulations": N_SIMULATIONS,
    "mean_between_ml": float(mean.loc["ML", "between"]),
    "mean_between_reml": float(mean.loc["REML", "between"]),
    "mean_residual_ml": float(mean.loc["ML", "residual"]),
    "mean_residual_reml": float(mean.loc["REML", "residual"]),
    "share_reml_at_least_ml": float(np.mean(wide["REML"] >= wide["ML"] - 1e-8)),
    "by_hand_max_relative_error": float(np.max(np.abs(
        comparison.iloc[:, [0, 2]].to_numpy() / comparison.iloc[:, [1, 3]].to_numpy() - 1))),
    "integral_spread": float(integrals.max() - integrals.min()),
}
print("LESSONS " + json.dumps(lessons))
