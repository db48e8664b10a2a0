"""Bundled data sets (from R's lme4 1.1-31) and simulated teaching examples.

`load(name)` returns a DataFrame with grouping columns as categoricals in R's level order;
`list()` returns a table of what is here.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from importlib import resources

import pandas as pd

from ..errors import DataError, unknown_column
from ..design.frame import factor_levels
from .simulated import simulate_households, simulate_slopes


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    file: str | None
    factors: tuple[str, ...]
    description: str
    example: str
    # R's level order where it is neither numeric nor alphabetical ("appearance": order of first appearance).
    level_order: tuple[tuple[str, object], ...] = ()


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo("sleepstudy", "sleepstudy.csv", ("Subject",),
                    "reaction times of 18 subjects over 10 days of sleep deprivation",
                    "Reaction ~ Days + (Days | Subject)"),
        DatasetInfo("dyestuff", "dyestuff.csv", ("Batch",),
                    "yield of dyestuff from 6 batches of an intermediate product, 5 preparations each",
                    "Yield ~ 1 + (1 | Batch)"),
        DatasetInfo("penicillin", "penicillin.csv", ("plate", "sample"),
                    "penicillin potency: 6 samples crossed with 24 plates",
                    "diameter ~ 1 + (1 | plate) + (1 | sample)"),
        DatasetInfo("pastes", "pastes.csv", ("batch", "cask", "sample"),
                    "paste strength: 3 casks nested in each of 10 batches, 2 assays each",
                    "strength ~ 1 + (1 | batch/cask)"),
        DatasetInfo("cbpp", "cbpp.csv", ("herd", "period"),
                    "contagious bovine pleuropneumonia: new cases per herd and period (binomial counts)",
                    "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
        DatasetInfo("verbagg", "verbagg.csv.gz", ("Gender", "item", "resp", "id", "btype", "situ", "mode", "r2"),
                    "verbal aggression: 316 people x 24 items, binary responses",
                    "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
                    (("mode", ("want", "do")), ("item", "appearance"), ("resp", ("no", "perhaps", "yes")))),
        DatasetInfo("insteval", "insteval.csv.gz", ("s", "d", "studage", "lectage", "service", "dept"),
                    "ETH Zurich lecture evaluations: 73,421 ratings, students crossed with lecturers",
                    "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)"),
        DatasetInfo("sim_slopes", None, ("g",),
                    "simulated: 1,000 groups of 20, correlated random intercepts and slopes (seed 7)",
                    "y ~ x + (x | g)"),
        DatasetInfo("households", None, ("postcode",),
                    "simulated: household income by postcode, very uneven sampling, true postcode means kept",
                    "income ~ 1 + (1 | postcode)"),
    )
}


def list() -> pd.DataFrame:  # noqa: A001 - the issue asks for datasets.list()
    """Name, size, example formula and description of every bundled data set."""
    rows = []
    for info in DATASETS.values():
        frame = load(info.name)
        rows.append({"name": info.name, "rows": len(frame), "columns": len(frame.columns),
                     "example": info.example, "description": info.description})
    return pd.DataFrame(rows)


def names() -> builtins.list[str]:
    return builtins.list(DATASETS)


def load(name: str) -> pd.DataFrame:
    """A bundled data set by name, grouping columns as categoricals (levels in R's order)."""
    key = str(name).lower()
    if key not in DATASETS:
        raise _unknown(name)
    info = DATASETS[key]
    if key == "sim_slopes":
        return simulate_slopes()
    if key == "households":
        return simulate_households()
    with resources.files(__package__).joinpath("data", info.file).open("rb") as handle:
        frame = pd.read_csv(handle, compression="gzip" if info.file.endswith(".gz") else None,
                            dtype={f: str for f in info.factors})
    frame = as_factors(frame, info.factors)
    for column, order in info.level_order:
        levels = pd.unique(frame[column].astype(str)) if order == "appearance" else builtins.list(order)
        frame[column] = frame[column].cat.reorder_categories(builtins.list(levels))
    return frame


def as_factors(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Turn columns into categoricals with factor_levels' order (integer-like labels sorted as numbers)."""
    frame = frame.copy()
    for column in columns:
        codes, levels = factor_levels(frame[column])
        frame[column] = pd.Categorical.from_codes(codes, categories=builtins.list(levels))
    return frame


def _unknown(name: str) -> DataError:
    error = unknown_column(str(name), DATASETS)
    return DataError(str(error).replace("unknown column", "unknown data set"))


__all__ = ["DATASETS", "as_factors", "list", "load", "names", "simulate_households", "simulate_slopes"]
