"""Shared fixtures: the lme4 1.1-31 reference values (copied from shared/reference) and bundled data."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

REFERENCE_PATH = Path(__file__).parent / "reference" / "lme4_reference.json"


@lru_cache(maxsize=1)
def load_reference() -> dict:
    """The whole reference file: {'fits': {id: {...}}, 'lrt': [...]}."""
    return json.loads(REFERENCE_PATH.read_text())


def reference_fits(family: str | None = None) -> dict[str, dict]:
    fits = load_reference()["fits"]
    return {k: v for k, v in fits.items() if family is None or v["family"] == family}


def as_list(value) -> list:
    """R unboxes length-1 vectors: a scalar or a one-element list both become a list."""
    return value if isinstance(value, list) else [value]


def named(values, names: list[str]) -> dict:
    """A reference vector as {name: value}, whether R wrote it named (dict) or unnamed (list/scalar)."""
    if isinstance(values, dict):
        return values
    return dict(zip(names, as_list(values)))


@pytest.fixture(scope="session")
def reference() -> dict:
    return load_reference()
