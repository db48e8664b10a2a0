"""Plain-text rendering in R's style: number columns, aligned tables, p-values and significance stars.

Generic pieces any fit's summary can use; no statistics happen here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

# Beyond this many decimals a fixed-point column would be mostly zeros: R switches to e-notation.
MAX_DECIMALS = 8
SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


def column_decimals(values: Sequence[float], digits: int) -> int:
    """R's format(x, digits): one number of decimals for the column, enough to show every finite
    nonzero element to `digits` significant digits, without the trailing zeros that adds."""
    decimals = 0
    for v in values:
        if v is None or not np.isfinite(v) or v == 0:
            continue
        exponent = math.floor(math.log10(abs(v)))
        target = float(f"{v:.{digits - 1}e}")
        needed = next(s for s in range(1, digits + 1) if float(f"{v:.{s - 1}e}") == target)
        decimals = max(decimals, needed - 1 - exponent)
    return decimals


def format_column(values: Sequence[float | None], digits: int = 4, blank: str = "") -> list[str]:
    """Numbers formatted as one column (common decimals; e-notation if that needs too many)."""
    decimals = column_decimals(values, digits)
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(blank)
        elif decimals > MAX_DECIMALS:
            out.append(f"{v:.{digits - 1}e}")
        else:
            out.append(f"{v:.{decimals}f}")
    return out


def format_p_value(p: float, digits: int = 3) -> str:
    """R's format.pval: `digits` significant digits, '< 2e-16' below machine precision."""
    if not np.isfinite(p):
        return "NA"
    if p < 2.2e-16:
        return "< 2e-16"
    if p < 10 ** -(digits + 1):
        return f"{p:.{digits - 1}e}"
    return f"{p:.{digits}g}"


def significance_stars(p: float) -> str:
    """R's codes: *** < 0.001 <= ** < 0.01 <= * < 0.05 <= . < 0.1."""
    if not np.isfinite(p):
        return ""
    for cut, stars in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return stars
    return ""


def render_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], align: str | None = None, indent: str = ""
) -> list[str]:
    """Lines of an aligned text table; align is one character per column, 'l' or 'r' (default: first
    column left, the others right)."""
    n_cols = len(header)
    align = align or "l" + "r" * (n_cols - 1)
    widths = [max([len(header[c])] + [len(row[c]) for row in rows]) for c in range(n_cols)]

    def line(cells: Sequence[str]) -> str:
        parts = [cell.ljust(w) if a == "l" else cell.rjust(w) for cell, w, a in zip(cells, widths, align)]
        return (indent + " ".join(parts)).rstrip()

    return [line(header)] + [line(row) for row in rows]

