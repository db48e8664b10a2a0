"""Figure construction shared by the plots (matplotlib is imported only when a plot is drawn)."""

from __future__ import annotations

import math


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def new_axes(width: float = 6.0, height: float = 4.5):
    """One Figure with one Axes."""
    figure, axes = _pyplot().subplots(figsize=(width, height), layout="constrained")
    return figure, axes


def subplots_grid(panels: int, width: float = 4.0, height_per_row: float = 3.5, columns: int = 3):
    """A Figure with `panels` Axes in rows of up to `columns`; unused Axes are removed."""
    columns = max(1, min(columns, panels))
    rows = max(1, math.ceil(panels / columns))
    figure, axes = _pyplot().subplots(rows, columns, figsize=(width * columns, height_per_row * rows),
                                      layout="constrained", squeeze=False)
    flat = list(axes.ravel())
    for extra in flat[panels:]:
        extra.remove()
    return figure, flat[:panels]
