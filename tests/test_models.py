"""Every worked model spec in models/ builds its design on its bundled data."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

import bayesmixed as bm

SPECS = sorted((Path(__file__).parent.parent / "models").glob("*.toml"))


def test_there_are_worked_specs():
    assert len(SPECS) >= 8


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_spec_builds(path):
    spec = tomllib.loads(path.read_text())
    assert spec["name"] == path.stem
    model = bm.Model(spec["formula"], bm.datasets.load(spec["data"]), family=spec["family"])
    assert model.design.terms and model.design.n > 0
    assert set(spec["methods"]) <= {"reml", "ml", "bayes"}
    if spec["family"] != "gaussian":
        assert "reml" not in spec["methods"]
