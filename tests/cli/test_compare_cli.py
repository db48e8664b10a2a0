"""`bayesmixed compare`: the LRT table, the bootstrap, and one-line errors."""

from __future__ import annotations

from tests.design.test_bad_input import run_cli

SMALL = "Reaction ~ Days + (Days || Subject)"
BIG = "Reaction ~ Days + (Days | Subject)"


def test_compare_prints_the_lrt_table_and_the_bootstrap():
    result = run_cli("compare", SMALL, BIG, "sleepstudy", "--bootstrap", "20", "--seed", "1")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0].split()
    assert header[:8] == ["npar", "aic", "bic", "loglik", "deviance", "chisq", "df", "p"]
    big_row = next(line for line in lines if line.startswith(BIG))
    assert "0.06391" in big_row and "0.800418" in big_row  # lme4's anova: χ² 0.0639 on 1 df, p 0.8004
    assert "Parametric bootstrap LRT (20 of 20 simulations refitted)" in result.stdout
    assert "bootstrap p =" in result.stdout


def test_compare_accepts_the_models_in_either_order():
    result = run_cli("compare", BIG, SMALL, "sleepstudy", "-b", "4", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "4 of 4 simulations" in result.stdout


def test_compare_reports_bad_input_on_one_line_with_status_2():
    result = run_cli("compare", SMALL, "Reaction ~ Days + (Days | Subjct)", "sleepstudy")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: unknown column 'Subjct'")
    assert len(result.stderr.strip().splitlines()) == 1
    result = run_cli("compare", SMALL, "Reaction ~ 1 + (Days | Subject)", "sleepstudy")
    assert result.returncode == 2
    assert "nested" in result.stderr and len(result.stderr.strip().splitlines()) == 1
