"""Matplotlib figures to PNG bytes for the report, drawn off-screen; a figure that cannot be drawn becomes a
visible note in the report rather than a crash of the whole report."""

from __future__ import annotations

import io
import re
from typing import Any, Callable

from ..errors import BayesmixedError
from .document import Figure, Paragraph

DPI = 80


def to_png(figure: Any) -> bytes:
    """PNG bytes of a matplotlib Figure, which is closed afterwards."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return buffer.getvalue()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "figure"


def draw(name: str, caption: str, make: Callable[[], Any]) -> Figure | Paragraph:
    """Figure(name, caption, png of make()), or a warning paragraph naming the plot and the reason."""
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        matplotlib.use("Agg")
    try:
        return Figure(slug(name), caption, to_png(make()))
    except (BayesmixedError, ValueError, KeyError, IndexError, TypeError, ArithmeticError) as exc:
        import matplotlib.pyplot as plt

        plt.close("all")
        return Paragraph(f"{caption}: not drawn ({type(exc).__name__}: {' '.join(str(exc).split())})", "warning")
