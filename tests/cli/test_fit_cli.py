"""`bayesmixed fit`: the default method follows the family, and --weights reaches the fit."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tests.design.test_bad_input import run_cli

REFERENCE_DIR = Path(__file__).parents[1] / "reference"


def test_glmm_fit_defaults_to_laplace_ml():
    result = run_cli("fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
                     "--family", "binomial")
    assert result.returncode == 0, result.stderr
    assert "Laplace" in result.stdout
    assert "REML" not in result.stdout


def test_gaussian_fit_defaults_to_reml():
    result = run_cli("fit", "Yield ~ 1 + (1 | Batch)", "dyestuff")
    assert result.returncode == 0, result.stderr
    assert "REML criterion at convergence: 319.7" in result.stdout


def test_fit_with_weights_column_matches_lme4(tmp_path):
    reference = json.loads((REFERENCE_DIR / "weights_reference.json").read_text())["lmm"]["sim_reml"]
    path = tmp_path / "sim.csv"
    pd.read_csv(REFERENCE_DIR / "weighted_sim.csv").to_csv(path, index=False)
    result = run_cli("fit", reference["formula"], str(path), "--weights", "w")
    assert result.returncode == 0, result.stderr
    assert "Weights: w" in result.stdout
    assert f"REML criterion at convergence: {reference['objective']:.1f}" in result.stdout
    missing = run_cli("fit", reference["formula"], str(path), "--weights", "wt")
    assert missing.returncode == 2
    assert "error: unknown column 'wt' (used in weights=); did you mean 'w'?" in missing.stderr
