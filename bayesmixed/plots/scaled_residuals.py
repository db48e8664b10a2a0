"""DHARMa-style plots of simulation-based scaled residuals (see inference.simulated_residuals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ._figure import subplots_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..inference.simulated_residuals import ScaledResiduals

QUANTILES = (0.25, 0.5, 0.75)


def scaled_residuals(result: "ScaledResiduals", title: str = "") -> "Figure":
    """Uniform QQ (with the KS, dispersion and outlier tests), residuals against the rank of the prediction
    with binned quartiles (flat at 0.25, 0.5, 0.75 when the model fits), and the dispersion test's distribution."""
    figure, (qq, versus, spread) = subplots_grid(3, width=4.2, height_per_row=3.8)
    u = np.sort(result.residuals)
    expected = (np.arange(1, u.size + 1) - 0.5) / u.size
    band = stats.binom.ppf([[0.025], [0.975]], u.size, expected[None, :]) / u.size  # pointwise 95% for order stats
    qq.fill_between(expected, band[0], band[1], color="grey", alpha=0.25, label="95% band")
    qq.scatter(expected, u, s=8, zorder=3)
    qq.plot([0, 1], [0, 1], color="C3", lw=1)
    qq.set_xlabel("expected (uniform)")
    qq.set_ylabel("observed scaled residual")
    qq.set_title("Uniform QQ")
    lines = [f"KS p = {result.uniformity().p_value:.3g}", f"dispersion p = {result.dispersion().p_value:.3g}",
             f"outliers p = {result.outliers().p_value:.3g}"]
    qq.text(0.03, 0.97, "\n".join(lines), transform=qq.transAxes, va="top", fontsize="small",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})

    rank = stats.rankdata(result.predicted) / result.predicted.size
    versus.scatter(rank, result.residuals, s=8, alpha=0.6)
    for q in QUANTILES:
        versus.axhline(q, color="grey", ls="--", lw=1)
    _binned_quantiles(versus, rank, result.residuals)
    versus.set_xlim(0, 1)
    versus.set_ylim(-0.02, 1.02)
    versus.set_xlabel("predicted (rank transformed)")
    versus.set_ylabel("scaled residual")
    versus.set_title("Residuals vs predicted")

    ratio, simulated = result.dispersion_ratios()
    spread.hist(simulated, bins=30, color="C0", alpha=0.7, label="simulated")
    spread.axvline(ratio, color="C3", lw=2, label=f"observed {ratio:.2f}")
    spread.set_xlabel("var(y − ŷ) / mean simulated")
    spread.set_title("Dispersion test")
    spread.legend(fontsize="small")
    figure.suptitle(title or f"Simulated (DHARMa) residuals: {result.label}")
    return figure


def _binned_quantiles(axes, x: np.ndarray, y: np.ndarray, bins: int = 10) -> None:
    """Quartiles of y within bins of x: DHARMa fits quantile regressions; bins need no extra dependency."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    filled = [b for b in range(bins) if np.sum(which == b) >= 3]
    for q, colour in zip(QUANTILES, ("C1", "C3", "C1")):
        values = [np.quantile(y[which == b], q) for b in filled]
        axes.plot(centres[filled], values, color=colour, lw=2)
