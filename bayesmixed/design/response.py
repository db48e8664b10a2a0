"""The response by family: Gaussian numbers, binomial 0/1 or cbind(successes, failures), Poisson counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError, FormulaError
from ..formula.terms import ParsedFormula, call_arguments
from .fixed import evaluate


@dataclass(frozen=True)
class Response:
    """y (binomial: successes), trials (binomial only) and, for a factor response, its two levels."""

    name: str
    y: np.ndarray
    trials: np.ndarray | None
    levels: tuple[str, ...] | None




def build_response(parsed: ParsedFormula, frame: pd.DataFrame, family: str,
                   weights: tuple[str, np.ndarray] | None = None) -> Response:
    """Read the response on the model frame and check it suits the family.

    Binomial with weights (label, w): y is the proportion of successes in wᵢ trials, as glmer's, and
    comes back as successes yᵢwᵢ out of wᵢ trials.
    """
    if weights is not None and parsed.response_is_cbind:
        # glmer would weight each row's log-likelihood, binomial constant included; these engines take the
        # trials from the response or from the weights, not from both
        raise DataError(
            f"weights {weights[0]!r} with {parsed.response}: give either cbind(successes, failures) or the "
            "proportion of successes with weights = the number of trials, not both"
        )
    response = _read_response(parsed, frame, family, proportions=weights is not None)
    if family == "binomial" and weights is not None:
        return _weighted_trials(response, *weights)
    return response


def _weighted_trials(response: Response, label: str, weights: np.ndarray) -> Response:
    successes = response.y * weights
    whole = np.abs(successes - np.round(successes)) < 1e-8
    if not whole.all():
        row = int(np.flatnonzero(~whole)[0])
        raise DataError(
            f"binomial response {response.name!r} times weights {label!r} must give whole numbers of successes "
            f"(the response is the proportion of successes, the weights the number of trials); row {row} gives "
            f"{response.y[row]:g} x {weights[row]:g} = {successes[row]:g}"
        )
    return Response(response.name, np.round(successes), response.trials * weights, response.levels)


def _read_response(parsed: ParsedFormula, frame: pd.DataFrame, family: str, proportions: bool) -> Response:
    formula = parsed.text
    if parsed.response_is_cbind:
        if family != "binomial":
            raise FormulaError(
                f"cbind(successes, failures) is a binomial response, but family is {family!r}; "
                "use family='binomial'",
                formula,
                parsed.response_position,
            )
        args = call_arguments(parsed.response, formula, parsed.response_position)
        if len(args) != 2:
            raise FormulaError(
                f"cbind() needs exactly two arguments (successes, failures), got {len(args)}",
                formula,
                parsed.response_position,
            )
        successes = _numeric(evaluate(args[0], frame, formula, "response"), args[0])
        failures = _numeric(evaluate(args[1], frame, formula, "response"), args[1])
        trials = successes + failures
        if (successes < 0).any() or (failures < 0).any() or not _integers(successes) or not _integers(failures):
            raise DataError(f"binomial counts in {parsed.response} must be non-negative whole numbers")
        return Response(parsed.response, successes, trials, None)

    values = evaluate(parsed.response, frame, formula, "response")
    name = parsed.response
    if family == "binomial":
        return _binomial_response(name, values, proportions)
    y = _numeric(values, name)
    if family == "gaussian" and np.ptp(y) == 0.0:
        raise DataError(f"response {name!r} is constant ({y[0]:g} in every row): there is no variation to model")
    if family in ("poisson", "negbin") and ((y < 0).any() or not _integers(y)):
        label = "Poisson" if family == "poisson" else "negative binomial"
        raise DataError(f"{label} response {name!r} must hold non-negative whole-number counts")
    return Response(name, y, None, None)


def _binomial_response(name: str, values: pd.Series, proportions: bool) -> Response:
    """0/1 numbers (proportions in [0, 1] when weights give the trials), booleans, or a factor whose first
    level is failure and other levels success (R's rule)."""
    if pd.api.types.is_bool_dtype(values.dtype):
        y = values.to_numpy(dtype=float)
        return Response(name, y, np.ones_like(y), None)
    if pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(values.dtype, pd.CategoricalDtype):
        y = values.to_numpy(dtype=float)
        if proportions:
            if not ((y >= 0.0) & (y <= 1.0)).all():
                raise DataError(f"binomial response {name!r} with weights (trials) must be a proportion in [0, 1]; "
                                f"found values such as {sorted(set(y[(y < 0.0) | (y > 1.0)]))[:3]}")
        elif not np.isin(y, (0.0, 1.0)).all():
            raise DataError(
                f"binomial response {name!r} must be 0/1, a two-level factor, or cbind(successes, failures) "
                "(or a proportion with weights= the number of trials); "
                f"found values such as {sorted(set(y[~np.isin(y, (0.0, 1.0))]))[:3]}"
            )
        return Response(name, y, np.ones_like(y), None)
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = tuple(str(c) for c in values.cat.categories)
        labels = values.astype(str).to_numpy()
    else:
        labels = values.astype(str).to_numpy()
        levels = tuple(sorted(set(labels)))
    if len(levels) < 2:
        raise DataError(f"binomial response {name!r} has a single level {levels[0]!r}; both outcomes must occur")
    y = (labels != levels[0]).astype(float)
    return Response(name, y, np.ones_like(y), (levels[0], "/".join(levels[1:])))


def _numeric(values: pd.Series, name: str) -> np.ndarray:
    if not pd.api.types.is_numeric_dtype(values.dtype) or isinstance(values.dtype, pd.CategoricalDtype):
        raise DataError(f"response {name!r} must be numeric, but it holds {values.dtype} values")
    y = values.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise DataError(f"response {name!r} has infinite or undefined values (after any transformation)")
    return y


def _integers(values: np.ndarray) -> bool:
    return bool(np.all(np.abs(values - np.round(values)) < 1e-8))
