"""The teaching notebooks (notebooks/NN_*.ipynb, built from notebooks/source/ by scripts/build_notebooks.py).

Fast: the committed notebooks are the sources' cells, carry the outputs of a full-length run (every code
cell executed once, in order, no errors, every figure drawn), and the lessons that run printed hold.
Slow: each notebook reruns top to bottom in a Jupyter kernel with short chains, and its lessons still hold.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_notebooks", ROOT / "scripts" / "build_notebooks.py")
build_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_notebooks)

SOURCES = build_notebooks.sources()
# The committed run's Monte Carlo size (the notebooks' default) and the short one the suite reruns with.
FULL_DRAWS = 1000
CI_DRAWS = 100
FIGURE_CALLS = ("plots.", "plt.")


def _lessons_01(lessons: dict) -> None:
    assert lessons["shrinkage_formula_error"] < 1e-8, "fit.ranef is not lambda_i (ybar_i - mu)"
    assert lessons["rmse_partial_pooling"] < lessons["rmse_no_pooling"] < lessons["rmse_complete_pooling"]
    assert lessons["mean_shrinkage_small_groups"] > 0.3 > 0.1 > lessons["mean_shrinkage_large_groups"]


def _lessons_02(lessons: dict) -> None:
    assert 0 < lessons["icc"] < 1
    assert lessons["icc"] == pytest.approx(lessons["icc_by_hand"], rel=1e-10)
    assert abs(lessons["reml_minus_anova_between"]) < 0.01, "REML's balanced-data estimate is not the ANOVA one"
    assert lessons["singular_sd"] == 0.0 and lessons["singular_flagged"]
    lower, upper = lessons["singular_profile_interval"]
    assert lower == 0.0 and upper > 0.5, "a zero estimate still has a profile interval reaching away from 0"
    assert lessons["zeta_at_dyestuff_profile_ends"] == pytest.approx([-1.96, 1.96], abs=0.02)
    assert lessons["zero_fraction_singular"] > max(0.25, lessons["zero_fraction_dyestuff"])


def _lessons_03(lessons: dict) -> None:
    assert lessons["mean_between_reml"] > lessons["mean_between_ml"]
    assert lessons["mean_residual_reml"] > lessons["mean_residual_ml"]
    assert lessons["share_reml_at_least_ml"] == 1.0
    assert lessons["by_hand_max_relative_error"] < 1e-5, "numpy's ML/REML maxima differ from bayesmixed's"
    assert lessons["integral_spread"] < 1e-6, "the flat-prior integral is not the REML criterion"


def _lessons_04(lessons: dict) -> None:
    low, high = lessons["prior_predictive_95"]
    assert low < lessons["observed_range"][0] and lessons["observed_range"][1] < high, "priors narrower than the data"
    assert lessons["tight_prior_median_sd_batch"] < lessons["posterior_median_sd_batch"]
    lower, upper = lessons["reml_profile_sd_batch"]
    assert lower < lessons["posterior_median_sd_batch"] < upper
    assert lessons["dyestuff_max_rhat"] < 1.05
    assert lessons["crossed_sd_sample"] > lessons["crossed_sd_plate"]
    assert lessons["nested_sd_cask"] > lessons["nested_sd_batch"]


def _lessons_05(lessons: dict) -> None:
    assert abs(lessons["sleep_residual_trend_vs_days"]) < 0.05
    assert lessons["too_simple_residual_trend_vs_days"] > 0.5, "the left-out Days trend is not in the residuals"
    assert lessons["cbpp_ks_p"] > 0.05 and lessons["cbpp_packaged_ks_p"] > 0.05
    assert lessons["overdispersed_ks_p"] < 0.01
    assert lessons["overdispersed_dispersion_ratio"] > 1.5 and lessons["overdispersed_dispersion_p"] < 0.05
    assert 1 < lessons["negbin_theta"] < 4, "the negative binomial's size is far from the simulated 2"
    assert lessons["negbin_ks_p"] > 0.05 and 0.7 < lessons["negbin_dispersion_ratio"] < 1.4


def _lessons_06(lessons: dict) -> None:
    assert lessons["aic_table_refused_reml"] and lessons["anova_said_refit"]
    assert lessons["fixed_effect_p"] < 1e-3
    assert lessons["boundary_statistic"] == pytest.approx(lessons["boundary_statistic_by_hand"], abs=1e-6)
    assert lessons["p_mixture"] == pytest.approx(lessons["p_chisq"] / 2)
    # the bootstrap p is near the mixture's, well below the naive chi-square one
    assert abs(lessons["p_bootstrap"] - lessons["p_mixture"]) < 4 * lessons["bootstrap_mc_se"] + 0.01
    assert lessons["p_bootstrap"] < lessons["p_chisq"]
    assert abs(lessons["p_by_hand"] - lessons["p_bootstrap"]) < 0.15
    assert 0.3 < lessons["bootstrap_share_at_zero"] < 0.75
    assert lessons["aic_best"] != "Reaction ~ 1 + (Days | Subject)", "AIC prefers the model without Days"
    assert sorted(lessons["loo_models"]) == ["correlated", "uncorrelated"]
    assert all(math.isfinite(v) and v < 0 for v in lessons["loo_elpd"] + lessons["logo_elpd"])


LESSON_CHECKS: dict[str, Callable[[dict], None]] = {
    "01": _lessons_01,
    "02": _lessons_02,
    "03": _lessons_03,
    "04": _lessons_04,
    "05": _lessons_05,
    "06": _lessons_06,
}


def check_outputs(notebook, name: str) -> None:
    """Every code cell ran once, in order (execution counts 1..n), without an error or a progress bar's
    widget warning, with output; every cell that draws has a PNG; the last cell printed the LESSONS line."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    counts = [cell.get("execution_count") for cell in code_cells]
    assert counts == list(range(1, len(code_cells) + 1)), f"{name}: execution counts {counts} are not 1..n"
    for cell in code_cells:
        first_line = cell.source.splitlines()[0]
        assert cell.outputs, f"{name}: cell {cell.execution_count} ({first_line!r}) has no output"
        text = "".join(output.get("text", "") for output in cell.outputs)
        assert "ipywidgets" not in text, f"{name}: cell {cell.execution_count} shows a progress bar's widget warning"
        errors = [output for output in cell.outputs if output.output_type == "error"]
        assert not errors, f"{name}: cell {cell.execution_count} raised {errors[0].get('ename')}"
        if any(call in cell.source for call in FIGURE_CALLS):
            assert any("image/png" in output.get("data", {}) for output in cell.outputs), (
                f"{name}: cell {cell.execution_count} ({first_line!r}) draws but has no image/png output")
    build_notebooks.lessons(notebook)


def _committed(source: Path):
    import nbformat

    path = build_notebooks.NOTEBOOK_DIR / f"{source.stem}.ipynb"
    assert path.exists(), f"{path.name} is missing: run python scripts/build_notebooks.py --execute"
    return nbformat.read(path, as_version=4)


def test_notebooks_are_the_six_sources():
    committed = sorted(path.stem for path in build_notebooks.NOTEBOOK_DIR.glob("*.ipynb"))
    assert committed == [source.stem for source in SOURCES]
    assert [source.name[:2] for source in SOURCES] == sorted(LESSON_CHECKS)


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_committed_notebook_matches_its_source(source):
    built = build_notebooks.build(source)
    committed = _committed(source)
    assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], (
        f"{source.stem}.ipynb differs from its source: rebuild it with scripts/build_notebooks.py --execute")


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_committed_notebook_has_a_full_runs_outputs(source):
    committed = _committed(source)
    check_outputs(committed, source.stem)
    lessons = build_notebooks.lessons(committed)
    if "monte_carlo_size" in lessons:
        assert lessons["monte_carlo_size"] == FULL_DRAWS, "the committed outputs are from a short run"
    LESSON_CHECKS[source.name[:2]](lessons)


def test_check_outputs_catches_a_missing_output_and_a_wrong_order():
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("print(1)", execution_count=1,
                                                outputs=[nbformat.v4.new_output("stream", text="1\n")]),
                      nbformat.v4.new_code_cell("x = 2", execution_count=2, outputs=[])]
    with pytest.raises(AssertionError, match="has no output"):
        check_outputs(notebook, "made up")
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", text="LESSONS {}\n")]
    notebook.cells[0].execution_count, notebook.cells[1].execution_count = 2, 1
    with pytest.raises(AssertionError, match="not 1..n"):
        check_outputs(notebook, "made up")
    notebook.cells[0].execution_count, notebook.cells[1].execution_count = 1, 2
    notebook.cells[0].source = "plt.plot([1, 2])"
    with pytest.raises(AssertionError, match="no image/png"):
        check_outputs(notebook, "made up")


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_notebook_runs_in_a_kernel_and_its_lessons_hold(source):
    notebook = build_notebooks.execute(build_notebooks.build(source), draws=CI_DRAWS)
    check_outputs(notebook, source.stem)
    lessons = build_notebooks.lessons(notebook)
    assert all(not isinstance(v, float) or math.isfinite(v) for v in lessons.values())
    LESSON_CHECKS[source.name[:2]](lessons)
