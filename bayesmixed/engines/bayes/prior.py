"""Prior distributions for the Bayesian engine (`bm.prior`), plus the default rule scaled to the data.

Each prior is a small frozen record: it prints itself, encodes itself for the compiled kernel
(`code`, three parameters) and builds the matching PyMC distribution on demand, so importing this
module imports neither PyMC nor numba.

Default rule (rstanarm/bambi style; s_y = sd(y) for gaussian, 1 on the link scale otherwise):
  slope β_j ~ Normal(0, 2.5 s_y / sd(x_j));
  (Intercept) ~ Normal(m_y, sqrt((2.5 s_y)² + Σ_j (2.5 s_y mean(x_j) / sd(x_j))²)), m_y = mean(y) (gaussian),
      log(mean(y)) (poisson, negative binomial), 0 (binomial) — as wide at x = 0 as the slopes' priors make the mean there;
  sd(g:c) ~ HalfNormal(2.5 s_y / sd(column c)) (2.5 s_y for a constant column);
  cor(g) ~ LKJ(2) (η = 1 leaves ~10% of mass beyond |ρ| = 0.9 for two columns);
  sigma ~ Exponential(1 / s_y);
  theta (negative binomial size, var = μ + μ²/θ) ~ 1/√θ ~ HalfNormal(1): the Stan prior-choice wiki's choice for
      the NB overdispersion; its mode is the Poisson (1/√θ = 0) and it puts ~68% of mass on θ > 1, where
      brms's old Gamma(0.01, 0.01) on θ piles mass at both ends and pulls θ far from the data on small samples.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ...design.types import Design

# Kernel codes: the compiled log density switches on these (see kernels.prior_logp).
NORMAL, STUDENT_T, HALF_NORMAL, HALF_STUDENT_T, EXPONENTIAL, LKJ_CODE, INVERSE_SQRT_HALF_NORMAL = 0, 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class Prior:
    """One prior distribution; `support` is 'real', 'positive' or 'correlation'."""

    family: str
    params: tuple[tuple[str, float], ...]
    code: int
    support: str

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={_fmt(value)}" for name, value in self.params)
        return f"{self.family}({args})"

    def param(self, name: str) -> float:
        return dict(self.params)[name]

    def kernel_row(self) -> tuple[float, float, float, float]:
        """(code, a, b, c) as the kernel reads it."""
        values = [v for _, v in self.params] + [0.0] * (3 - len(self.params))
        return (float(self.code), *map(float, values[:3]))

    def to_pymc(self, name: str, **kwargs: Any):
        """The matching PyMC distribution (LKJ is handled by the model builder, not here)."""
        import pymc as pm

        p = dict(self.params)
        if self.code == NORMAL:
            return pm.Normal(name, mu=p["mu"], sigma=p["sigma"], **kwargs)
        if self.code == STUDENT_T:
            return pm.StudentT(name, nu=p["nu"], mu=p["mu"], sigma=p["sigma"], **kwargs)
        if self.code == HALF_NORMAL:
            return pm.HalfNormal(name, sigma=p["sigma"], **kwargs)
        if self.code == HALF_STUDENT_T:
            return pm.HalfStudentT(name, nu=p["nu"], sigma=p["sigma"], **kwargs)
        if self.code == EXPONENTIAL:
            return pm.Exponential(name, lam=p["lam"], **kwargs)
        if self.code == INVERSE_SQRT_HALF_NORMAL:
            inverse_root = pm.HalfNormal(f"{name}_inverse_sqrt", sigma=p["sigma"], **kwargs)
            return pm.Deterministic(name, 1.0 / inverse_root**2)
        raise ValueError(f"{self!r} has no standalone PyMC form")


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"prior parameter {name} must be a positive finite number, got {value!r}")
    return value


def Normal(mu: float = 0.0, sigma: float = 1.0) -> Prior:
    """Normal(μ, σ) for a fixed effect."""
    return Prior("Normal", (("mu", float(mu)), ("sigma", _positive("sigma", sigma))), NORMAL, "real")


def StudentT(nu: float, mu: float = 0.0, sigma: float = 1.0) -> Prior:
    """Student-t(ν, μ, σ) for a fixed effect."""
    params = (("nu", _positive("nu", nu)), ("mu", float(mu)), ("sigma", _positive("sigma", sigma)))
    return Prior("StudentT", params, STUDENT_T, "real")


def Cauchy(alpha: float = 0.0, beta: float = 1.0) -> Prior:
    """Cauchy(α, β), stored as Student-t with ν = 1."""
    return StudentT(1.0, alpha, beta)


def HalfNormal(sigma: float = 1.0) -> Prior:
    """Half-normal(σ) for a standard deviation."""
    return Prior("HalfNormal", (("sigma", _positive("sigma", sigma)),), HALF_NORMAL, "positive")


def HalfStudentT(nu: float, sigma: float = 1.0) -> Prior:
    """Half-Student-t(ν, σ) for a standard deviation."""
    params = (("nu", _positive("nu", nu)), ("sigma", _positive("sigma", sigma)))
    return Prior("HalfStudentT", params, HALF_STUDENT_T, "positive")


def HalfCauchy(beta: float = 1.0) -> Prior:
    """Half-Cauchy(β), stored as half-Student-t with ν = 1."""
    return HalfStudentT(1.0, beta)


def Exponential(lam: float = 1.0) -> Prior:
    """Exponential with rate λ (mean 1/λ) for a standard deviation."""
    return Prior("Exponential", (("lam", _positive("lam", lam)),), EXPONENTIAL, "positive")


def InverseSqrtHalfNormal(sigma: float = 1.0) -> Prior:
    """1/√θ ~ Half-normal(σ) for a positive θ (the negative binomial's size): density ½ θ^(−3/2) HalfNormal(θ^(−½) | σ)."""
    return Prior("InverseSqrtHalfNormal", (("sigma", _positive("sigma", sigma)),), INVERSE_SQRT_HALF_NORMAL, "positive")


def LKJ(eta: float = 2.0) -> Prior:
    """LKJ(η) on a correlation matrix: density ∝ det(R)^(η−1)."""
    return Prior("LKJ", (("eta", _positive("eta", eta)),), LKJ_CODE, "correlation")


_SUPPORT_FOR_KIND = {"fixef": "real", "sd": "positive", "sigma": "positive", "dispersion": "positive", "cor": "correlation"}
_EXAMPLE_FOR_KIND = {"fixef": "Normal(0, 5)", "sd": "HalfNormal(10)", "sigma": "Exponential(0.1)",
                     "dispersion": "InverseSqrtHalfNormal(1)", "cor": "LKJ(2)"}


@dataclass(frozen=True)
class PriorEntry:
    """One row of the prior table: a parameter name as summary() prints it, its kind and prior."""

    name: str
    kind: str  # "fixef" | "sigma" | "dispersion" | "sd" | "cor"
    prior: Prior
    rule: str


@dataclass(frozen=True)
class PriorSet:
    """Every prior of a model, in the order summary() prints the parameters."""

    entries: tuple[PriorEntry, ...]
    header: str = ""
    notes: tuple[str, ...] = field(default=())

    def __getitem__(self, name: str) -> Prior:
        for entry in self.entries:
            if entry.name == name:
                return entry.prior
        raise KeyError(_unknown_name_message(name, self.names))

    def __contains__(self, name: object) -> bool:
        return any(entry.name == name for entry in self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.entries]

    def updated(self, overrides: dict[str, Prior] | None) -> PriorSet:
        """A copy with some priors replaced; unknown names or a prior of the wrong support raise ValueError."""
        if not overrides:
            return self
        by_name = {entry.name: entry for entry in self.entries}
        for name, prior in overrides.items():
            if name not in by_name:
                raise ValueError(_unknown_name_message(name, list(by_name)))
            if not isinstance(prior, Prior):
                raise ValueError(f"prior for {name!r} must be built with bm.prior (e.g. bm.prior.Normal(0, 5)), got {prior!r}")
            kind = by_name[name].kind
            if prior.support != _SUPPORT_FOR_KIND[kind]:
                raise ValueError(
                    f"{name!r} needs a prior on {_SUPPORT_FOR_KIND[kind]} values, e.g. "
                    f"bm.prior.{_EXAMPLE_FOR_KIND[kind]}; got {prior!r}"
                )
        entries = tuple(
            PriorEntry(e.name, e.kind, overrides[e.name], "user") if e.name in overrides else e for e in self.entries
        )
        return PriorSet(entries, self.header, self.notes)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            {"parameter": self.names, "prior": [repr(e.prior) for e in self.entries], "rule": [e.rule for e in self.entries]}
        )

    def __str__(self) -> str:
        width = max(len("parameter"), *(len(e.name) for e in self.entries)) if self.entries else 9
        prior_width = max(len("prior"), *(len(repr(e.prior)) for e in self.entries)) if self.entries else 5
        lines = [self.header] if self.header else []
        lines.append(f"  {'parameter':<{width}}  {'prior':<{prior_width}}  rule")
        for e in self.entries:
            lines.append(f"  {e.name:<{width}}  {repr(e.prior):<{prior_width}}  {e.rule}")
        lines.extend(self.notes)
        return "\n".join(lines)

    __repr__ = __str__


def _unknown_name_message(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.4)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown prior key {name!r}{hint} (parameters: {', '.join(known)})"


def sd_name(group: str, column: str) -> str:
    """A random-effect sd's name in the priors, the draws and the summary, e.g. sd(Subject:Days)."""
    return f"sd({group}:{column})"


def cor_name(group: str) -> str:
    """The prior key of a term's whole correlation matrix (its LKJ prior)."""
    return f"cor({group})"


def correlation_name(group: str, first: str, second: str) -> str:
    """One correlation's name in the draws and the summary, e.g. cor(Subject:(Intercept),Days)."""
    return f"cor({group}:{first},{second})"


def default_priors(design: Design) -> PriorSet:
    """The weakly informative defaults of the module docstring, computed from `design`."""
    family = design.family
    y = np.asarray(design.y, dtype=float)
    if family == "gaussian":
        scale_y = float(np.std(y - design.offset, ddof=1)) if design.n > 1 else 1.0
        scale_y = scale_y if scale_y > 0 else 1.0
        location_y, scale_note = float(np.mean(y - design.offset)), f"s_y = sd(y) = {_fmt(scale_y)}"
    elif family == "binomial":
        scale_y, location_y, scale_note = 1.0, 0.0, "s_y = 1 (logit scale)"
    elif family in ("poisson", "negbin"):
        scale_y, scale_note = 1.0, "s_y = 1 (log scale)"
        location_y = float(np.log(max(np.mean(y / np.exp(design.offset)), 1e-8)))
    else:
        raise ValueError(f"unsupported family {family!r} for the Bayesian engine; use gaussian, binomial, poisson or negbin")

    X = np.asarray(design.X, dtype=float)
    col_sd = X.std(axis=0, ddof=1) if design.n > 1 else np.zeros(design.p)
    col_mean = X.mean(axis=0)
    constant = col_sd <= 1e-12 * np.maximum(1.0, np.abs(col_mean))
    slope_scale = np.where(constant, 0.0, 2.5 * scale_y / np.where(constant, 1.0, col_sd))

    entries: list[PriorEntry] = []
    for j, name in enumerate(design.fixef_names):
        if constant[j]:
            spread = math.sqrt((2.5 * scale_y) ** 2 + float(np.sum((slope_scale * col_mean) ** 2)))
            location = location_y / col_mean[j] if col_mean[j] != 0 else 0.0
            entries.append(PriorEntry(name, "fixef", Normal(location, spread / abs(col_mean[j] or 1.0)),
                                      "Normal(m_y, √((2.5 s_y)² + Σ(2.5 s_y x̄_j/s_xj)²))"))
        else:
            entries.append(PriorEntry(name, "fixef", Normal(0.0, float(slope_scale[j])), "Normal(0, 2.5 s_y / sd(x))"))
    if family == "gaussian":
        entries.append(PriorEntry("sigma", "sigma", Exponential(1.0 / scale_y), "Exponential(1 / s_y)"))
    elif family == "negbin":
        entries.append(PriorEntry("theta", "dispersion", InverseSqrtHalfNormal(1.0), "1/√θ ~ HalfNormal(1) (Stan wiki)"))
    for term in design.terms:
        matrix = np.asarray(term.matrix, dtype=float)
        for c, column in enumerate(term.columns):
            sd_col = float(np.std(matrix[:, c], ddof=1)) if design.n > 1 else 0.0
            if sd_col <= 1e-12 * max(1.0, abs(float(np.mean(matrix[:, c])))):
                prior, rule = HalfNormal(2.5 * scale_y), "HalfNormal(2.5 s_y)"
            else:
                prior, rule = HalfNormal(2.5 * scale_y / sd_col), "HalfNormal(2.5 s_y / sd(column))"
            entries.append(PriorEntry(sd_name(term.group, column), "sd", prior, rule))
        if term.has_correlations:
            entries.append(PriorEntry(cor_name(term.group), "cor", LKJ(2.0), "LKJ(2)"))
    names = [e.name for e in entries]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"two random terms give the same parameter names {sorted(duplicates)}; merge them into one term")
    header = f"Priors for {design.formula}  (family {family}; {scale_note})"
    return PriorSet(tuple(entries), header)
