"""`bm.report` / `bayesmixed report`: every worked spec gives one self-contained HTML report holding every
section; the random-effects block matches lme4; markdown output; fits passed in; bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import bayesmixed as bm
from bayesmixed.cli.main import app
from bayesmixed.errors import BayesmixedError
from bayesmixed.reports.document import SECTION_IDS
from bayesmixed.reports.sections import p_worse, random_effects_block

from .conftest import FAST_SPECS, SPECS

REFERENCE = json.loads((Path(__file__).parent.parent / "reference" / "lme4_reference.json").read_text())["fits"]
MAX_BYTES = 5_000_000


def check_self_contained(text: str) -> None:
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", text), "a link or source outside the file"
    assert "@media print" in text


@pytest.mark.parametrize("stem", [pytest.param(path.stem, marks=[] if path.stem in FAST_SPECS else [pytest.mark.slow])
                                  for path in SPECS])
def test_report_for_every_spec(reports, stem):
    path = reports.html(stem)
    text = path.read_text()
    assert path.stat().st_size < MAX_BYTES
    check_self_contained(text)
    for section in SECTION_IDS:
        assert f'<section id="{section}">' in text, section
    images = re.findall(r'<img src="([^"]+)"', text)
    assert len(images) >= 8 and all(src.startswith("data:image/png;base64,") for src in images)
    assert not re.findall(r"not drawn \([^)]*\)", text)
    if stem == "dyestuff2":  # the singular case says so where the estimates are
        estimates = text[text.index('<section id="estimates">'):text.index('<section id="criteria">')]
        assert "REML: boundary (singular) fit" in estimates
    simulated = text[text.index('<section id="simulated-residuals">'):text.index('<section id="sampler">')]
    assert "uniformity (KS)" in simulated and "dispersion" in simulated and "<img" in simulated


def test_glmm_report_compares_models_by_every_route(reports):
    text = reports.html("cbpp").read_text()
    for phrase in ("Akaike weights", "Parametric bootstrap of the LRT", "p_worse", "Pareto", "Simulated (DHARMa) residuals",
                   "R-hat", "prior predictive"):
        assert phrase in text, phrase


def test_random_effects_block_matches_lme4():
    data = bm.datasets.load("dyestuff")
    model = bm.Model("Yield ~ 1 + (1 | Batch)", data)
    block = random_effects_block({"reml": model.fit("reml"), "ml": model.fit("ml")}, None)
    for method, key in (("REML", "dyestuff_reml"), ("ML", "dyestuff_ml")):
        batch, residual = REFERENCE[key]["varcorr"]
        assert block.loc[("Batch: (Intercept)", "variance"), method] == f"{batch['vcov']:.4g}"
        assert block.loc[("Batch: (Intercept)", "SD"), method] == f"{batch['sdcor']:.4g}"
        assert block.loc[("Residual", "SD"), method] == f"{residual['sdcor']:.4g}"
    assert block.loc[("Batch", "groups"), "REML"] == "6"


def test_random_effects_block_squares_the_sd_interval():
    model = bm.Model("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
    fit = model.fit("reml")
    table = bm.side_by_side(reml=fit, intervals="profile")
    block = random_effects_block({"reml": fit}, table.to_frame())
    lower, upper = table.to_frame().loc["sd_(Intercept)|Batch", ("reml", ["lower", "upper"])]
    assert block.loc[("Batch: (Intercept)", "variance"), "REML"].endswith(f"[{lower ** 2:.4g}, {upper ** 2:.4g}]")


def test_p_worse_is_the_normal_probability_of_a_worse_elpd():
    values = p_worse(np.array([0.0, 2.0, 10.0]), np.array([0.0, 2.0, 2.5]))
    assert np.isnan(values[0])
    np.testing.assert_allclose(values[1:], [0.841344746, 0.999968329], rtol=1e-8)


def test_markdown_report_writes_figures_beside_it(tmp_path):
    path = bm.report(Path(__file__).parent.parent.parent / "models" / "dyestuff.toml", tmp_path / "dye.md",
                     quick=True, progress=False)
    text = path.read_text()
    folder = tmp_path / "dye_files"
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert figures and all((tmp_path / figure).is_file() for figure in figures)
    assert len(list(folder.glob("*.png"))) == len(set(figures))
    for section in SECTION_IDS:
        assert f'<a id="{section}"></a>' in text


def test_report_of_fits_passed_in(tmp_path):
    model = bm.Model("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff"))
    fits = {"reml": model.fit("reml"), "ml": model.fit("ml")}
    path = bm.report(fits, tmp_path / "fits.html", progress=False)
    text = path.read_text()
    check_self_contained(text)
    assert all(f'<section id="{section}">' in text for section in SECTION_IDS)
    assert "One model: there is nothing to compare" in text  # the two fits are one model by two methods


def test_report_refuses_an_unknown_format(tmp_path):
    with pytest.raises(BayesmixedError, match=r"\.html or \.md"):
        bm.report({}, tmp_path / "x.pdf")


def test_cli_report_writes_the_file(tmp_path):
    output = tmp_path / "dye.html"
    result = CliRunner().invoke(app, ["report", str(Path(__file__).parent.parent.parent / "models" / "dyestuff.toml"),
                                      "-o", str(output), "--quick", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert f"wrote {output}" in " ".join(result.output.split())
    assert '<section id="sampler">' in output.read_text()


def test_cli_report_names_a_bad_spec(tmp_path):
    spec = tmp_path / "bad.toml"
    spec.write_text('data = "dyestuff"\n[models]\nm = "Yield ~ 1 + (1 | Batch)"\n[sampler]\ndraw = 10\n')
    result = CliRunner().invoke(app, ["report", str(spec), "-o", str(tmp_path / "x.html"), "--no-progress"])
    assert result.exit_code == 2
    assert "unknown key 'sampler.draw'" in result.output and str(spec) in result.output


@pytest.mark.filterwarnings("ignore::UserWarning")  # short chains: the sampler's diagnostics complain
def test_leave_one_group_out_on_request():
    from dataclasses import replace

    from bayesmixed.reports.build import ReportContext
    from bayesmixed.reports.sections import bayes_comparison_section
    from bayesmixed.specs import fit_spec, load_spec

    spec = load_spec(Path(__file__).parent.parent.parent / "models" / "sleepstudy.toml", quick=True)
    spec = replace(spec, methods=("bayes",), loo_unit="group")
    fitted = fit_spec(spec)
    section = bayes_comparison_section(ReportContext(fitted.fits, spec, spec.data))
    captions = [block.caption for block in section.blocks if hasattr(block, "caption")]
    assert any("leaving out one group at a time" in caption for caption in captions)
    counts = section.blocks[-1].table
    k_columns = [column for column in counts.columns if " k" in f" {column}" and column != "max k"]
    assert len(k_columns) == 3 and list(counts[k_columns].sum(axis=1)) == [18, 18]  # 18 subjects left out
