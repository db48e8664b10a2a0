"""Residual and random-effect diagnostics (the lecture's section 3), each returning a matplotlib Figure.

They work on any fit with the shared surface: `fitted(re=)`, `residuals(kind=, re=)`, `ranef`, `ranef_sd`,
`design`; a Bayesian fit's fitted values and random effects are posterior means.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import BayesmixedError
from ..families import get_family
from ._figure import new_axes, subplots_grid

RESIDUAL_LABELS = {"response": "residual", "pearson": "Pearson residual", "deviance": "deviance residual"}


def _title(fit: Any, what: str) -> str:
    return f"{what}\n{fit.design.formula}"


def _residual_label(kind: str, re: bool) -> str:
    scope = "conditional" if re else "marginal"
    return f"{scope} {RESIDUAL_LABELS.get(kind, kind)}"


def residuals_vs_fitted(fit: Any, kind: str = "pearson", re: bool = True):
    """Residuals against fitted values, with a smooth trend: funnels show heteroskedasticity."""
    fitted = fit.fitted(re=re).to_numpy(dtype=float)
    residuals = fit.residuals(kind=kind, re=re).to_numpy(dtype=float)
    figure, axes = new_axes()
    axes.scatter(fitted, residuals, s=12, alpha=0.6)
    axes.axhline(0.0, color="grey", lw=1, ls="--")
    _add_trend(axes, fitted, residuals)
    axes.set_xlabel(f"fitted {fit.design.response}")
    axes.set_ylabel(_residual_label(kind, re))
    axes.set_title(_title(fit, "Residuals vs fitted"))
    return figure


def residuals_vs_predictor(fit: Any, predictor: str, kind: str = "pearson", re: bool = True):
    """Residuals against one fixed-effect column of X: curvature shows a missing non-linear term."""
    names = list(fit.design.fixef_names)
    if predictor not in names:
        raise BayesmixedError(f"unknown predictor {predictor!r}; the model's X columns are {', '.join(names)}")
    x = fit.design.X[:, names.index(predictor)]
    residuals = fit.residuals(kind=kind, re=re).to_numpy(dtype=float)
    figure, axes = new_axes()
    axes.scatter(x, residuals, s=12, alpha=0.6)
    axes.axhline(0.0, color="grey", lw=1, ls="--")
    _add_trend(axes, x, residuals)
    axes.set_xlabel(predictor)
    axes.set_ylabel(_residual_label(kind, re))
    axes.set_title(_title(fit, f"Residuals vs {predictor}"))
    return figure


def _add_trend(axes, x: np.ndarray, y: np.ndarray, bins: int = 12) -> None:
    """A binned-mean trend line (robust, no smoothing dependency)."""
    if np.unique(x).size < 3:
        return
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, edges.size - 2)
    centres = [x[which == b].mean() for b in range(edges.size - 1) if np.any(which == b)]
    means = [y[which == b].mean() for b in range(edges.size - 1) if np.any(which == b)]
    axes.plot(centres, means, color="C3", lw=2, label="binned mean")
    axes.legend(loc="best", fontsize="small")


def _qq_panel(axes, sample: np.ndarray, envelope: bool, n_simulations: int, seed: int | None) -> None:
    """Normal QQ plot of a standardised sample, with a pointwise 95% envelope from simulated normals."""
    sample = np.sort(np.asarray(sample, dtype=float))
    m = sample.size
    scale = sample.std(ddof=1) if m > 1 and sample.std(ddof=1) > 0 else 1.0
    standardised = (sample - sample.mean()) / scale
    theoretical = stats.norm.ppf((np.arange(1, m + 1) - 0.5) / m)
    if envelope and m > 2:
        rng = np.random.default_rng(seed)
        draws = np.sort(rng.standard_normal((n_simulations, m)), axis=1)
        draws = (draws - draws.mean(axis=1, keepdims=True)) / draws.std(axis=1, ddof=1, keepdims=True)
        low, high = np.quantile(draws, [0.025, 0.975], axis=0)
        axes.fill_between(theoretical, low, high, color="grey", alpha=0.25, label="95% envelope")
    axes.scatter(theoretical, standardised, s=14, zorder=3)
    axes.plot(theoretical, theoretical, color="C3", lw=1)
    axes.set_xlabel("normal quantile")
    axes.set_ylabel("standardised sample quantile")


def qq_residuals(fit: Any, kind: str = "pearson", re: bool = True, envelope: bool = True,
                 n_simulations: int = 500, seed: int | None = 0):
    """Normal QQ plot of the residuals (normality of ε)."""
    figure, axes = new_axes()
    _qq_panel(axes, fit.residuals(kind=kind, re=re).to_numpy(dtype=float), envelope, n_simulations, seed)
    axes.set_title(_title(fit, f"Normal QQ of {_residual_label(kind, re)}s"))
    return figure


def qq_ranef(fit: Any, group: str | None = None, envelope: bool = True, n_simulations: int = 500,
             seed: int | None = 0):
    """Normal QQ plot of each random-effect column (BLUPs or posterior means), with a simulation envelope."""
    panels = [(g, column, frame[column]) for g, frame in _ranef_frames(fit, group) for column in frame.columns]
    figure, axes_list = subplots_grid(len(panels))
    for axes, (g, column, values) in zip(axes_list, panels):
        _qq_panel(axes, values.to_numpy(), envelope, n_simulations, seed)
        axes.set_title(f"{g}: {column} ({values.size} levels)")
    figure.suptitle(_title(fit, "Normal QQ of random effects"))
    return figure


def _ranef_frames(fit: Any, group: str | None) -> list[tuple[str, pd.DataFrame]]:
    ranef = fit.ranef
    if group is None:
        return list(ranef.items())
    if group not in ranef:
        raise BayesmixedError(f"unknown grouping factor {group!r}; the model's are {', '.join(ranef)}")
    return [(group, ranef[group])]


def caterpillar(fit: Any, group: str | None = None, level: float = 0.95):
    """Random effects per level, sorted, with intervals ±z·(conditional or posterior sd)."""
    z = stats.norm.ppf(0.5 + level / 2)
    frames = _ranef_frames(fit, group)
    panels = [(g, column) for g, frame in frames for column in frame.columns]
    figure, axes_list = subplots_grid(len(panels), width=4.5, height_per_row=max(3.0, 0.2 * min(_max_levels(frames), 60)))
    for axes, (g, column) in zip(axes_list, panels):
        estimate = fit.ranef[g][column]
        sd = fit.ranef_sd[g][column]
        order = np.argsort(estimate.to_numpy())
        positions = np.arange(order.size)
        axes.errorbar(estimate.to_numpy()[order], positions, xerr=z * sd.to_numpy()[order], fmt="o", ms=3,
                      lw=1, capsize=0)
        axes.axvline(0.0, color="grey", lw=1, ls="--")
        if order.size <= 40:
            axes.set_yticks(positions, [str(estimate.index[i]) for i in order], fontsize="x-small")
        else:
            axes.set_yticks([])
        axes.set_xlabel(f"{column} ({int(level * 100)}% interval)")
        axes.set_title(f"{g}: {column}")
    figure.suptitle(_title(fit, "Random effects"))
    return figure


def _max_levels(frames: list[tuple[str, pd.DataFrame]]) -> int:
    return max((len(frame) for _, frame in frames), default=1)


def shrinkage(fit: Any, group: str | None = None, truth: pd.Series | None = None):
    """Per-group raw means vs partial-pooling estimates vs the grand mean, against group size.

    For a random-intercept term: raw mean of y - Xβ̂ + β̂₀ per level (no pooling) and β̂₀ + γ̂ (partial
    pooling); small groups are pulled furthest towards the grand mean β̂₀. `truth` (level -> true
    mean), when known, is drawn too.
    """
    design = fit.design
    if not get_family(design.family).has_residual_sd:
        raise BayesmixedError(
            f"the shrinkage plot compares group means of a Gaussian response; this model is {design.family} "
            "(use caterpillar() for its random effects)"
        )
    intercept_terms = [t for t in design.terms if "(Intercept)" in t.columns and (group is None or t.group == group)]
    if not intercept_terms:
        raise BayesmixedError("the shrinkage plot needs a random-intercept term" +
                              (f" for {group!r}" if group else ""))
    term = intercept_terms[0]
    names = list(design.fixef_names)
    fixef = np.asarray(fit.fixef, dtype=float)
    grand = fixef[names.index("(Intercept)")] if "(Intercept)" in names else 0.0
    adjusted = design.y - design.offset - design.X @ fixef + grand
    counts = np.bincount(term.codes, minlength=term.n_levels)
    raw = np.bincount(term.codes, weights=adjusted, minlength=term.n_levels) / np.maximum(counts, 1)
    pooled = grand + fit.ranef[term.group]["(Intercept)"].reindex(list(term.levels)).to_numpy()
    figure, axes = new_axes(width=7.0)
    axes.set_xscale("log")
    for size, a, b in zip(counts, raw, pooled):
        axes.annotate("", xy=(size, b), xytext=(size, a), arrowprops={"arrowstyle": "->", "color": "grey", "lw": 0.8})
    axes.scatter(counts, raw, s=18, label="raw group mean (no pooling)", zorder=3)
    axes.scatter(counts, pooled, s=18, label="mixed-model estimate (partial pooling)", zorder=3)
    axes.axhline(grand, color="C3", lw=1.5, label="grand mean (complete pooling)")
    if truth is not None:
        true_values = pd.Series(truth).reindex(list(term.levels)).to_numpy(dtype=float)
        axes.scatter(counts, true_values, marker="x", color="k", s=20, label="true mean", zorder=4)
    axes.set_xlabel(f"observations per {term.group} (log scale)")
    axes.set_ylabel(f"{design.response} (adjusted for other fixed effects)")
    axes.set_title(_title(fit, f"Shrinkage of {term.group} means"))
    axes.legend(fontsize="small")
    return figure
