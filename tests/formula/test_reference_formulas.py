"""Every formula in the lme4 reference file gives lme4's terms, sizes, names and order."""

from __future__ import annotations

import pytest

import bayesmixed as bm
from tests.conftest import as_list, reference_fits

FITS = reference_fits()


def design_for(fit: dict):
    data = bm.datasets.load(fit["data"])
    return bm.build_design(fit["formula"], data, family=fit["family"])


@pytest.mark.parametrize("fit_id", sorted(FITS))
def test_theta_names_and_order_match_lme4(fit_id):
    fit = FITS[fit_id]
    design = design_for(fit)
    assert list(design.theta_names) == as_list(fit["theta_names"])
    assert design.n == fit["nobs"]


@pytest.mark.parametrize("fit_id", sorted(FITS))
def test_groups_levels_and_columns_match_lme4_ranef(fit_id):
    fit = FITS[fit_id]
    design = design_for(fit)
    assert list(design.groups) == [r["group"] for r in fit["ranef"]]
    for ranef in fit["ranef"]:
        terms = design.terms_for_group(ranef["group"])
        assert {t.levels for t in terms} == {tuple(ranef["levels"])}
        columns = [c for t in terms for c in t.columns]
        assert columns == as_list(ranef["terms"])
        for term in terms:
            assert term.Z.shape == (design.n, term.n_levels * term.n_columns)


@pytest.mark.parametrize("fit_id", sorted(FITS))
def test_fixed_effect_names_match_lme4(fit_id):
    fit = FITS[fit_id]
    design = design_for(fit)
    if isinstance(fit["fixef"], dict):
        assert list(design.fixef_names) == list(fit["fixef"])
    else:
        assert len(design.fixef_names) == len(as_list(fit["fixef"]))


def test_insteval_sizes():
    fit = FITS["insteval_reml"]
    design = design_for(fit)
    assert [t.n_levels for t in design.terms] == [2972, 1128, 14]
    assert design.q == 4114
    assert design.X.shape == (73421, 2)
    assert all(t.Z.nnz == 73421 for t in design.terms)


def test_z_reproduces_the_term_matrix_level_major():
    design = design_for(FITS["sleep_corr_reml"])
    term = design.terms[0]
    dense = term.Z.toarray()
    for row in (0, 17, 95, 179):
        level = term.codes[row]
        expected = term.matrix[row]
        assert dense[row, 2 * level : 2 * level + 2] == pytest.approx(expected)
        assert dense[row].sum() == pytest.approx(expected.sum())
