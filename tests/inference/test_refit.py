"""Bootstrap refits reach the optimum a full fit reaches for the same simulated response."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bayesmixed.engines.lmm import fit_lmm
from bayesmixed.inference.refit import response_model, start_of
from tests.inference.helpers import SLEEP_CORRELATED, SLEEP_UNCORRELATED, lmm


@pytest.mark.parametrize("formula", [SLEEP_UNCORRELATED, SLEEP_CORRELATED])
def test_warm_started_refit_reaches_a_full_fits_optimum(formula):
    fit = lmm(formula, reml=False)
    model = response_model(fit)
    for y in fit.simulate(8, seed=5):
        refit = model.refit(y, [start_of(fit)])
        full = fit_lmm(dataclasses.replace(fit.design, y=y), reml=False)
        assert refit.objective == pytest.approx(full.objective, rel=1e-6)
        np.testing.assert_allclose(refit.theta, full.theta, rtol=2e-3, atol=2e-3)
