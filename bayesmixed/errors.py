"""Errors raised for bad input: each names the problem so the CLI can print it as one line."""

from __future__ import annotations

import difflib
import sys
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

_PACKAGE = Path(__file__).resolve().parent


class BayesmixedError(Exception):
    """Base class of every error bayesmixed raises on purpose."""

    def one_line(self) -> str:
        """The message on one line, for the command line."""
        return " ".join(str(self).split())


class FormulaError(BayesmixedError, ValueError):
    """A formula that cannot be parsed; the message shows the formula with a caret at the position."""

    def __init__(self, message: str, formula: str | None = None, position: int | None = None):
        self.formula = formula
        self.position = position
        self.reason = message
        if formula is not None and position is not None:
            pointer = " " * position + "^"
            message = f"{message} at position {position} in formula:\n  {formula}\n  {pointer}"
        elif formula is not None:
            message = f"{message} in formula: {formula}"
        super().__init__(message)

    def one_line(self) -> str:
        if self.formula is not None and self.position is not None:
            return f"{self.reason} at position {self.position} in formula {self.formula!r}"
        return super().one_line()


class DataError(BayesmixedError, ValueError):
    """Data that do not fit the formula: a missing column, a bad grouping factor, a bad response."""


def unknown_column(name: str, available: Iterable[str], where: str = "") -> DataError:
    """Error for a column not in the data, suggesting close matches."""
    available = [str(a) for a in available]
    close = difflib.get_close_matches(name, available, n=3, cutoff=0.5)
    if not close:
        close = [a for a in available if a.lower() == name.lower()]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    location = f" (used in {where})" if where else ""
    return DataError(f"unknown column {name!r}{location}{hint}")


def warn_user(message: str, category: type[Warning]) -> None:
    """warnings.warn pointing at the first frame outside bayesmixed, i.e. the user's own call."""
    frame, level = sys._getframe(1), 2
    while frame is not None and Path(frame.f_code.co_filename).resolve().is_relative_to(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def check_options(options: Iterable[str], accepted: Iterable[str], call: str) -> None:
    """Refuse keyword options that `call` does not take, naming them (a raw TypeError names only the first)."""
    accepted = sorted(set(accepted))
    unknown = sorted(set(options) - set(accepted))
    if not unknown:
        return
    by_lower = {name.lower(): name for name in accepted}
    close = sorted({by_lower[match] for name in unknown
                    for match in difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)})
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise BayesmixedError(
        f"unknown option(s) for {call}: {', '.join(unknown)}{hint} (it takes {', '.join(accepted) or 'none'})"
    )


def keyword_names(function: Callable[..., Any], *exclude: str) -> list[str]:
    """The parameters of `function` that can be given by keyword and have defaults, less `exclude`."""
    import inspect

    return [name for name, parameter in inspect.signature(function).parameters.items()
            if parameter.default is not inspect.Parameter.empty and name not in exclude]
