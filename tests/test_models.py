"""The worked model specs in models/: each validates and builds its models; the schema's errors name the
file and the key; `bayesmixed fit spec.toml` fits what a spec names."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import bayesmixed as bm
from bayesmixed.cli.main import app
from bayesmixed.specs import SpecError, check_priors_used, load_spec

SPECS = sorted((Path(__file__).parent.parent / "models").glob("*.toml"))
REQUIRED = {"sleepstudy", "households", "dyestuff", "dyestuff2", "penicillin", "pastes", "cbpp", "counts"}


def test_the_required_specs_are_there():
    assert REQUIRED <= {path.stem for path in SPECS}
    families = {load_spec(path, quick=False).family for path in SPECS}
    assert families == {"gaussian", "binomial", "poisson"}


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_spec_validates_and_builds(path):
    spec = load_spec(path, quick=False)
    data = spec.load_data()
    designs = [bm.Model(formula, data, family=spec.family).design for formula in spec.models.values()]
    assert all(design.terms and design.n == len(data) for design in designs)
    check_priors_used(spec, designs)
    for design in designs:
        overrides = spec.prior_overrides(design)
        assert all(repr(prior).split("(")[0] in spec.priors[name] for name, prior in overrides.items())
    assert set(spec.methods) <= {"reml", "ml", "bayes"} and ("reml" not in spec.methods or spec.family == "gaussian")


def test_quick_shortens_chains_and_bootstrap():
    spec = load_spec(SPECS[0], quick=True)
    assert spec.quick and spec.sampler.draws <= 150 and spec.sampler.chains <= 2 and spec.bootstrap.n <= 19


GOOD = 'data = "dyestuff"\n[models]\noneway = "Yield ~ 1 + (1 | Batch)"\n'
# top-level keys must come before the first table header
TOP = '[models]\noneway = "Yield ~ 1 + (1 | Batch)"\n'


@pytest.mark.parametrize("text, message", [
    ('data = "dyestuff"\nformulas = "x"\n' + TOP, "unknown key 'formulas'"),
    (GOOD + "[sampler]\ndraw = 10\n", "unknown key 'sampler.draw' (did you mean 'sampler.draws'?)"),
    (GOOD + '[sampler]\ndraws = "1000"\n', "sampler.draws must be an integer, got '1000' (string)"),
    (GOOD + "[sampler]\nchains = 0\n", "sampler.chains must be at least 1"),
    (GOOD + '[report]\nloo_unit = "subject"\n', "report.loo_unit must be one of observation, group"),
    ('data = "dyestuff"\nfamily = "gamma"\n' + TOP, "family must be one of gaussian, binomial, poisson"),
    ('data = "dyestuff"\nfamily = "binomial"\nmethods = ["reml"]\n' + TOP,
     "methods holds 'reml', which is defined for Gaussian"),
    ('data = "dyestuff"\nmethods = ["mcmc"]\n' + TOP, "methods holds 'mcmc'"),
    (GOOD + '[priors]\n"sigma" = "HalfNormal("\n', "priors.'sigma' = 'HalfNormal(' is not a prior"),
    (GOOD + '[priors]\n"sigma" = "Gamma(2, 1)"\n', "unknown prior 'Gamma'"),
    (GOOD + '[priors]\n"sigma" = "HalfNormal(scale=2)"\n', "priors.'sigma' = 'HalfNormal(scale=2)'"),
    ('[models]\nm = "y ~ 1 + (1 | g)"\n', "missing key 'data'"),
    ('data = "dyestuff"\n', "missing key 'models'"),
    ('data = "dyestuff"\n[models]\nm = 3\n', "models.m must be a formula string"),
    ("data = [\n", "not valid TOML"),
])
def test_schema_errors_name_the_file_and_the_key(tmp_path, text, message):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(SpecError) as error:
        load_spec(path, quick=False)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_unknown_data_and_unused_prior_are_named(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text('data = "nosuch.csv"\n[models]\nm = "Yield ~ 1 + (1 | Batch)"\n')
    with pytest.raises(SpecError, match=r"spec.toml: data = 'nosuch.csv' is neither a bundled data set"):
        load_spec(path, quick=False).load_data()
    path.write_text(GOOD + '[priors]\n"sd(Bacth:(Intercept))" = "HalfNormal(20)"\n')
    spec = load_spec(path, quick=False)
    design = bm.Model(spec.models["oneway"], spec.load_data()).design
    with pytest.raises(SpecError, match=r"names no parameter of these models \(did you mean 'sd\(Batch:\(Intercept\)\)'"):
        check_priors_used(spec, [design])


def test_cli_fit_spec_prints_every_summary():
    result = CliRunner().invoke(app, ["fit", str(SPECS[0].parent / "dyestuff.toml"), "--quick"])
    assert result.exit_code == 0, result.output
    assert "oneway: reml" in result.output and "oneway: ml" in result.output and "oneway: bayes" in result.output
    assert "Linear mixed model fit by REML" in result.output and "1527.5" in result.output


def test_cli_fit_spec_refuses_data_argument():
    result = CliRunner().invoke(app, ["fit", str(SPECS[0].parent / "dyestuff.toml"), "dyestuff"])
    assert result.exit_code == 2
    assert "a spec file names its own data" in result.output


def test_a_spec_may_name_any_registered_family(tmp_path):
    path = tmp_path / "nb.toml"
    path.write_text('data = "dyestuff"\nfamily = "negbin"\nmethods = ["ml"]\n' + TOP)
    assert load_spec(path, quick=True).family == "negbin"
