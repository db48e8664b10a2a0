"""fit_bayes: Design -> priors -> route (marginal or full) -> sampler -> BayesFit."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import BayesmixedError
from .layout import (FULL, JOINT_MAX_Q, MARGINAL, MARGINAL_BLOCKED, MARGINAL_JOINT, IntegratedBeta, ParameterLayout,
                     absorbed_means, integrated_beta_model, is_marginal, make_layout, marginal_supported, pack_model)
from .prior import Prior, PriorSet, cor_name, default_priors, sd_name
from .sample_stats import DIVERGING, N_STEPS
from .seeds import FIXED, PRIOR, START, compiled_state, generator

if TYPE_CHECKING:
    from ...design.types import Design
    from .result import BayesFit

SAMPLERS = ("numba", "pymc", "nutpie", "numpyro")
# Centre a grouping factor's effects when their conditional sd is below this share of the term's sd (the data
# then dominate each level's prior: info·sd² > 3 for a scalar term), measured on the Poisson and binomial rows of
# benchmarks/bayes_robustness.py.
CENTRE_BELOW = 0.5
# One grouping factor: the per-group route samples β beside the sds, and where a variance sits near zero the
# β-sd funnel diverges now and then (one-way at zero, 6 x 5 rows: 6 of 30 seeds with divergences; 100 x 3 rows:
# 1 of 15), where the joint route, with β integrated out, has none (0 of 30; 0 of 15). The joint route's dense
# O(q³) algebra is cheap below this many random effects (0.17 s against 0.12 s a fit at q = 18, 4 x 1000 draws).
ONE_FACTOR_JOINT_Q = 24
# NUTS's target acceptance by default, then where a run diverges the higher ones it is sampled again at, as
# Stan's users raise adapt_delta by hand: a smaller step follows a funnel's neck that the default one leaps
# over (Poisson (1 | g) with 5 groups of 10: 22 and 15 divergences at 0.8, none at 0.95). Runs that do not
# diverge, nearly all, pay nothing.
TARGET_ACCEPT_STEPS = (0.8, 0.95, 0.99)


def fit_bayes(design: Design, *, priors: dict | PriorSet | None = None, draws: int = 1000, tune: int = 1000, chains: int = 4,
              seed: int | None = None, sampler: str = "numba", marginalize: bool | None = None,
              prior_only: bool = False, progressbar: bool | None = None, target_accept: float | None = None,
              max_depth: int = 10, cores: int | None = None, dense_metric: bool | None = None,
              centred: bool | Iterable[str] | None = None, warn: bool = True, **unknown_options: Any) -> BayesFit:
    """Sample the posterior (or, with prior_only, the prior and prior predictive) of the design's model.

    sampler "numba" (default) runs bayesmixed's compiled NUTS on a kernel cached across processes;
    "pymc", "nutpie" and "numpyro" sample the PyMC model (full non-centred route) with those backends.
    marginalize: None picks a marginal route (γ integrated out, drawn afterwards from its exact conditional) for
    every gaussian model: per group when the random terms share one grouping factor, jointly over all terms for
    crossed and nested ones (up to JOINT_MAX_Q random effects); the full non-centred route otherwise.
    target_accept: NUTS's target acceptance. None (default): 0.8, and where that run diverges it is run again at
    0.95, then 0.99 (TARGET_ACCEPT_STEPS), the summary saying so; a number: that value, run once.
    centred: True or grouping-factor names whose effects the full route samples centred (γ ~ N(0, Σ) directly),
    which mixes better when every level has many rows; implies the full route. None (default): on the full route,
    chosen per grouping factor from the frequentist fit (automatic_centring); False: all non-centred.
    """
    started = time.perf_counter()
    if sampler not in SAMPLERS:
        raise BayesmixedError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    for name, value in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(value) != value or value < (0 if name == "tune" else 1):
            raise BayesmixedError(f"{name} must be a {'non-negative' if name == 'tune' else 'positive'} integer, got {value!r}")
    if unknown_options:
        raise BayesmixedError(f"unknown option(s) for fit('bayes'): {', '.join(sorted(unknown_options))}")
    accepts = accept_steps(target_accept)
    prior_set = resolve_priors(design, priors)
    centred_groups = resolve_centred(design, centred or False, sampler)
    route = choose_route(design, False if centred_groups and marginalize is None else marginalize, sampler)
    if route == MARGINAL_BLOCKED and not all(prior_set[name].family == "Normal" for name in design.fixef_names):
        if marginalize:
            raise BayesmixedError(f"the blocked marginal route (more than {JOINT_MAX_Q} random effects) integrates β "
                                  "out under Normal priors; give every fixed effect a Normal prior or use "
                                  "marginalize=False")
        route = FULL
    if centred_groups and is_marginal(route):
        raise BayesmixedError("centred= applies to the full route, where γ is sampled; drop marginalize=True")
    if centred is None and route == FULL and sampler == "numba" and not prior_only:
        centred_groups = automatic_centring(design)
    from .result import BayesFit

    if prior_only:  # γ from its prior, N(0, CC'), not from a conditional on the observed y
        layout = make_layout(design, FULL)
        unconstrained = sample_prior(layout, prior_set, design, draws, chains, seed)
        return BayesFit(design, prior_set, layout, unconstrained, None, sampler="prior", seed=seed, max_depth=max_depth,
                        timings={"total": time.perf_counter() - started}, is_prior=True, warn=False)
    layout = make_layout(design, route, centred_groups)
    if route == MARGINAL_BLOCKED:
        return fit_blocked(design, prior_set, layout, draws=draws, tune=tune, chains=chains, seed=seed, cores=cores,
                           progressbar=progressbar, warn=warn, started=started)
    model = None  # the PyMC samplers do not use the packed model; BayesFit packs it if it needs it
    diverged: list[tuple[float, int]] = []  # (target_accept, divergences) of runs sampled again at a higher one
    if sampler == "numba":
        from .samplers import run_numba_nuts

        model = pack_model(design, layout, prior_set)
        integrated = integrated_beta_model(design, layout, prior_set)
        sampled_layout, sampled_model = (integrated.layout, integrated.model) if integrated else (layout, model)
        dense = dense_metric if dense_metric is not None else sampled_layout.size <= 60
        inits, metric = starting_points(design, sampled_layout, prior_set, sampled_model, chains, seed, dense)
        packed = time.perf_counter()
        for step, accept in enumerate(accepts):
            output = run_numba_nuts(sampled_model, inits, draws=draws, tune=tune, seed=seed, dense=dense,
                                    initial_inverse_metric=metric, target_accept=accept, max_depth=max_depth,
                                    progressbar=progressbar, cores=cores)
            divergences = int(output.stats[..., DIVERGING].sum())
            if not divergences or step == len(accepts) - 1:
                break
            diverged.append((accept, divergences))
        unconstrained, stats = output.draws, output.stats
        if integrated:
            unconstrained = draw_integrated_beta(integrated, unconstrained, seed)
        timings = {"prepare": packed - started, "sampling": time.perf_counter() - packed, "target_accept": accept,
                   "warmup_gradients": float(output.warmup_steps.sum()), "sampling_gradients": float(stats[..., N_STEPS].sum())}
    else:
        from .pymc_model import sample_with_pymc

        unconstrained, stats, timings = sample_with_pymc(design, layout, prior_set, sampler=sampler, draws=draws, tune=tune,
                                                         chains=chains, seed=seed, target_accept=accepts[0],
                                                         progressbar=progressbar)
    timings["total"] = time.perf_counter() - started
    return BayesFit(design, prior_set, layout, unconstrained, stats, sampler=sampler, seed=seed, max_depth=max_depth,
                    timings=timings, warn=warn, model=model, diverged_runs=tuple(diverged))


def accept_steps(target_accept: float | None) -> tuple[float, ...]:
    """The target acceptances to try in turn: the user's one, or the default and the higher ones after it."""
    if target_accept is None:
        return TARGET_ACCEPT_STEPS
    if not 0.0 < target_accept < 1.0:
        raise BayesmixedError(f"target_accept must be between 0 and 1 (exclusive), got {target_accept!r}")
    return (float(target_accept),)


def fit_blocked(design: Design, priors: PriorSet, layout: ParameterLayout, *, draws: int, tune: int, chains: int,
                seed: int | None, cores: int | None, progressbar: bool | None, warn: bool, started: float) -> BayesFit:
    """The blocked marginal route (blocked.py): independence MH on (σ, sds, correlations), β and γ drawn exactly."""
    from .blocked import BlockedPosterior, reml_fit, reml_point, sample_blocked
    from .result import BayesFit

    integrated = integrated_beta_model(design, layout, priors)
    reml = reml_fit(design)
    posterior = BlockedPosterior(design, integrated, reml.factor.system)
    start = reml_point(design, integrated.layout, reml)
    prepared = time.perf_counter()
    output = sample_blocked(posterior, start, chains=chains, tune=tune, draws=draws, seed=seed, cores=cores,
                            progressbar=progressbar)
    bounds = np.cumsum([0] + [t.size for t in design.terms])
    ranef = [output.gamma[..., a:b].reshape(-1, t.n_levels, t.n_columns) for t, a, b in zip(design.terms, bounds, bounds[1:])]
    timings = {"prepare": prepared - started, "sampling": time.perf_counter() - prepared,
               "evaluations": float(output.evaluations), "total": time.perf_counter() - started}
    return BayesFit(design, priors, layout, output.draws, output.stats, sampler="numba", seed=seed, max_depth=10,
                    timings=timings, warn=warn, ranef=ranef)


def draw_integrated_beta(integrated: IntegratedBeta, draws: np.ndarray, seed: int | None) -> np.ndarray:
    """The draws (chains, draws, D − p) of σ and the sds with β put in front, one exact draw of β | σ, Σ, y each
    (its standardised (β − m)/s are the last columns of the augmented conditional draw)."""
    from .conditional import joint_ranef_draws

    flat = np.ascontiguousarray(draws.reshape(-1, draws.shape[-1]))
    p = integrated.mean.size
    effects = np.empty((flat.shape[0], integrated.model[8].shape[1]))
    joint_ranef_draws(flat, integrated.model, compiled_state(seed, FIXED), effects)
    beta = integrated.mean + integrated.sd * effects[:, -p:]
    return np.concatenate([beta, flat], axis=1).reshape(draws.shape[:-1] + (p + draws.shape[-1],))


def resolve_priors(design: Design, priors: dict | PriorSet | None) -> PriorSet:
    """The design's default priors with the user's overrides, a bad key or prior raised as a BayesmixedError."""
    if isinstance(priors, PriorSet):
        return priors
    if priors is not None and not isinstance(priors, dict):
        raise BayesmixedError(f"priors must be a dict keyed by parameter name, e.g. {{'Days': bm.prior.Normal(0, 5)}}; got {type(priors).__name__}")
    try:
        return default_priors(design).updated(priors)
    except ValueError as error:
        raise BayesmixedError(str(error)) from None


def resolve_centred(design: Design, centred: bool | Iterable[str], sampler: str) -> frozenset[str]:
    """The grouping factors centred= names (True: all), checked against the model's and the sampler."""
    groups = [t.group for t in design.terms]
    if centred is True:
        chosen = frozenset(groups)
    elif not centred:
        chosen = frozenset()
    else:
        chosen = frozenset([centred] if isinstance(centred, str) else centred)
        unknown = sorted(chosen - set(groups))
        if unknown:
            raise BayesmixedError(f"centred= names unknown grouping factor(s) {unknown}; the model's are {sorted(set(groups))}")
    if chosen and sampler != "numba":
        raise BayesmixedError(f"centred= runs on sampler='numba'; the PyMC model (sampler={sampler!r}) is non-centred")
    return chosen


def automatic_centring(design: Design) -> frozenset[str]:
    """Grouping factors whose effects the data pin down: at the frequentist fit (REML, or Laplace for GLMMs), the
    median over levels of conditional sd / term sd is below CENTRE_BELOW for every column. There the centred
    parameterisation mixes better, elsewhere the non-centred one. A failed fit leaves all non-centred, and so
    does a singular term (a Λ diagonal at 0: a variance at zero, or a correlation at ±1, whose conditional sds
    then only mirror another column's)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if design.family == "gaussian":
                from ..lmm.fit import fit_lmm

                frequentist = fit_lmm(design, check_derivatives=False)
            else:
                from ..glmm.fit import fit_glmm

                frequentist = fit_glmm(design, check_derivatives=False)
            blocks, conditional = frequentist.covariance_blocks, frequentist.conditional_covariances
    except (BayesmixedError, ArithmeticError, ValueError, np.linalg.LinAlgError):
        return frozenset()
    from ..checks import singular_components

    singular = set(singular_components(np.asarray(frequentist.theta), design.theta_lower).tolist())
    chosen, refused = set(), set()
    for term, block, covariances, thetas in zip(design.terms, blocks, conditional, design.theta_slices):
        term_var = np.diag(block)
        level_var = np.diagonal(covariances, axis1=1, axis2=2)  # (levels, k)
        if singular & set(range(thetas.start, thetas.stop)) or np.any(term_var <= 0.0):  # on the boundary
            refused.add(term.group)
            continue
        ratio = np.sqrt(np.median(level_var, axis=0) / term_var)
        (chosen if np.all(ratio < CENTRE_BELOW) else refused).add(term.group)
    return frozenset(chosen - refused)


def boundary_fit(design: Design) -> bool:
    """Whether the REML fit puts some random-effect variance on the boundary (lme4's singular fit)."""
    from ..checks import singular_components
    from .blocked import reml_fit

    try:
        theta = reml_fit(design).theta
    except (BayesmixedError, ArithmeticError, ValueError, np.linalg.LinAlgError):
        return False
    return singular_components(np.asarray(theta), design.theta_lower).size > 0


def choose_route(design: Design, marginalize: bool | None, sampler: str) -> int:
    """MARGINAL, MARGINAL_JOINT, MARGINAL_BLOCKED or FULL: marginalize= if given and possible (else a
    BayesmixedError saying why), else a marginal route for every gaussian model, FULL otherwise. One grouping
    factor, unweighted: the per-group route, except for small models (q ≤ ONE_FACTOR_JOINT_Q) and fits on the
    boundary, which take the joint route, whose β is integrated out too; any other structure: the joint route up
    to JOINT_MAX_Q random effects, the blocked one beyond."""
    if marginalize is False:
        return FULL
    if design.family != "gaussian" or not design.terms:
        if marginalize is None:
            return FULL
        why = "the family is not gaussian" if design.family != "gaussian" else "it has no random terms"
        raise BayesmixedError(f"marginalize=True needs a gaussian model with random terms; {why}. "
                              "Use marginalize=False (the full non-centred model).")
    if sampler != "numba":
        if marginalize is None:
            return FULL
        raise BayesmixedError(f"the marginal route runs on sampler='numba'; sampler={sampler!r} samples the full "
                              "non-centred PyMC model (marginalize=False)")
    if marginal_supported(design):
        if design.q <= JOINT_MAX_Q and (design.q <= ONE_FACTOR_JOINT_Q or boundary_fit(design)):
            return MARGINAL_JOINT
        return MARGINAL
    if design.q > JOINT_MAX_Q:  # the joint route's dense O(q³) algebra would dominate: the REML engine's blocked one
        return MARGINAL_BLOCKED
    return MARGINAL_JOINT


def initial_point(design: Design, layout: ParameterLayout, priors: PriorSet) -> np.ndarray:
    """Least squares β (link scale for GLMs), residual σ or the NB size's moment estimate, sds at a fifth of their prior scale, u = 0."""
    x0 = np.zeros(layout.size)
    y = np.asarray(design.y, dtype=float)
    if design.family == "gaussian":
        target = y - design.offset
    elif design.family == "binomial":
        share = (y + 0.5) / (design.trials + 1.0)
        target = np.log(share / (1.0 - share)) - design.offset
    else:
        target = np.log(y + 0.5) - design.offset
    beta, *_ = np.linalg.lstsq(design.X, target, rcond=None)
    x0[layout.beta] = beta[: layout.p]  # p = 0 when the joint route integrates β out
    if design.family == "gaussian":
        x0[layout.sigma_index] = np.log(max(float(np.std(target - design.X @ beta)), 1e-8))
    elif design.family == "negbin":
        x0[layout.sigma_index] = np.log(moment_size(y / np.exp(design.offset)))
    for t in layout.terms:
        for c, column in enumerate(t.columns):
            prior = priors[sd_name(t.group, column)]
            scale = prior.param("sigma") if "sigma" in dict(prior.params) else 1.0 / prior.param("lam")
            x0[t.sd_index + c] = np.log(scale / 5.0)
    for t, mean in zip(layout.terms, absorbed_means(design, layout, x0[None, :design.p])):
        if mean is not None:  # hierarchically centred intercepts start at their mean x_j'β
            x0[t.u_index + np.arange(t.n_levels) * t.k] = mean[0]
    return x0


def moment_size(counts: np.ndarray) -> float:
    """The NB2 size from the moments, θ = m²/(v − m), clipped to [0.05, 1000] (1000 where v ≤ m: no overdispersion)."""
    mean, variance = float(np.mean(counts)), float(np.var(counts))
    return float(np.clip(mean**2 / (variance - mean), 0.05, 1e3)) if variance > mean else 1e3


def starting_points(design: Design, layout: ParameterLayout, priors: PriorSet, model: tuple, chains: int,
                    seed: int | None, dense: bool) -> tuple[np.ndarray, np.ndarray]:
    """Chain starts drawn around the Laplace mode with its covariance, and the initial inverse metric
    ((D, D) when dense, else its diagonal); see start.py."""
    from .start import laplace_start

    x0 = initial_point(design, layout, priors)
    if is_marginal(layout.route):
        coordinates = np.arange(layout.size)
    else:  # β and log σ (log θ): the random-effect coordinates have no curvature to speak of at u = 0
        coordinates = np.arange(layout.p + (1 if layout.sigma_index >= 0 else 0))
    mode, covariance = laplace_start(model, x0, coordinates)
    rng = generator(seed, START)
    inits = np.repeat(mode[None, :], chains, axis=0)
    inits[:, coordinates] += rng.standard_normal((chains, coordinates.size)) @ np.linalg.cholesky(covariance).T
    others = np.setdiff1d(np.arange(layout.size), coordinates)
    inits[:, others] += rng.uniform(-0.5, 0.5, size=(chains, others.size))
    diagonal = np.ones(layout.size)
    diagonal[coordinates] = np.diag(covariance)
    if not dense:
        return inits, diagonal
    metric = np.diag(diagonal)
    metric[np.ix_(coordinates, coordinates)] = covariance
    return inits, metric


def sample_prior(layout: ParameterLayout, priors: PriorSet, design: Design, draws: int, chains: int,
                 seed: int | None) -> np.ndarray:
    """Independent prior draws in the unconstrained layout (chains, draws, D)."""
    rng = generator(seed, PRIOR)
    shape = (chains, draws)
    out = np.zeros(shape + (layout.size,))
    for j, name in enumerate(design.fixef_names):
        out[..., j] = sample_one(priors[name], rng, shape)
    if layout.sigma_index >= 0:
        out[..., layout.sigma_index] = np.log(sample_one(priors[layout.scale_name], rng, shape))
    for t in layout.terms:
        for c, column in enumerate(t.columns):
            out[..., t.sd_index + c] = np.log(sample_one(priors[sd_name(t.group, column)], rng, shape))
        if t.correlated:
            eta = priors[cor_name(t.group)].param("eta")
            position = t.corr_index
            for i in range(1, t.k):
                for j in range(i):  # partial correlation of (i, j) given 0..j−1: 2 Beta(α_j, α_j) − 1
                    alpha = eta + (t.k - 2 - j) / 2.0
                    partial = 2.0 * rng.beta(alpha, alpha, size=shape) - 1.0
                    out[..., position] = np.arctanh(np.clip(partial, -1 + 1e-12, 1 - 1e-12))
                    position += 1
        if t.u_index >= 0:
            out[..., t.u_index : t.u_index + t.n_levels * t.k] = rng.standard_normal(shape + (t.n_levels * t.k,))
    return out


def sample_one(prior: Prior, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent draws of one prior, for prior-only fits."""
    p = dict(prior.params)
    if prior.family == "Normal":
        return rng.normal(p["mu"], p["sigma"], shape)
    if prior.family == "StudentT":
        return p["mu"] + p["sigma"] * rng.standard_t(p["nu"], shape)
    if prior.family == "HalfNormal":
        return np.abs(rng.normal(0.0, p["sigma"], shape))
    if prior.family == "HalfStudentT":
        return np.abs(p["sigma"] * rng.standard_t(p["nu"], shape))
    if prior.family == "Exponential":
        return rng.exponential(1.0 / p["lam"], shape)
    if prior.family == "InverseSqrtHalfNormal":
        return 1.0 / rng.normal(0.0, p["sigma"], shape) ** 2
    raise BayesmixedError(f"cannot draw from {prior!r}")

