"""lmer/glmer/Model.fit entry points: unknown options named, and the fit-time singular-fit warning with
advice that fits the term (issue 12)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayesmixed as bm
from bayesmixed.design import build_design
from bayesmixed.results.advice import SingularFitWarning, singular_fit_message

SLEEP = "Reaction ~ Days + (Days | Subject)"
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.mark.parametrize("call, message", [
    (lambda: bm.lmer(SLEEP, bm.datasets.load("sleepstudy"), reml=False),
     r"unknown option\(s\) for lmer: reml; did you mean REML\? \(it takes REML, check_derivatives"),
    (lambda: bm.lmer(SLEEP, bm.datasets.load("sleepstudy"), weight="Days", control=1),
     r"unknown option\(s\) for lmer: control, weight; did you mean weights\?"),
    (lambda: bm.glmer(CBPP, bm.datasets.load("cbpp"), nAGQ=5),
     r"unknown option\(s\) for glmer: nAGQ; did you mean nagq\?"),
    (lambda: bm.Model(SLEEP, bm.datasets.load("sleepstudy")).fit("ml", REML=False),
     r"unknown option\(s\) for fit\('ml'\): REML \(it takes check_derivatives, settings, start\)"),
    (lambda: bm.Model(CBPP, bm.datasets.load("cbpp"), family="binomial").fit("ml", nAGQ=5),
     r"unknown option\(s\) for fit\('ml'\): nAGQ; did you mean nagq\?"),
])
def test_unknown_options_are_named(call, message):
    with pytest.raises(bm.BayesmixedError, match=message):
        call()


@pytest.fixture(scope="module")
def slopes() -> pd.DataFrame:
    """Random intercepts only, fitted with a correlated random slope: lands on correlation -1 (θ g.x = 0)."""
    rng = np.random.default_rng(1)
    group = np.repeat(np.arange(12), 10)
    x = np.random.default_rng(3).normal(size=120)
    y = 1 + x + rng.normal(0, 1, 12)[group] + rng.normal(size=120)
    return pd.DataFrame({"y": y, "x": x, "g": group.astype(str)})


def test_singular_vector_term_warns_at_fit_time_with_double_bar_advice(slopes):
    with pytest.warns(SingularFitWarning) as caught:
        fit = bm.lmer("y ~ x + (x | g)", slopes)
    message = str(caught[0].message)
    assert message == fit.messages[0]
    assert message.startswith("boundary (singular) fit: (x | g): the random effects (Intercept), x are perfectly "
                              "correlated (correlation +-1) (theta g.x = 0, its lower bound)")
    assert "drop the correlation with (x || g), or use a simpler structure for (x | g)" in message


def test_singular_scalar_term_advises_dropping_it_not_double_bars():
    sleep = bm.datasets.load("sleepstudy")
    sleep["h"] = np.tile(list("abcde"), 36)  # a grouping with no effect: its variance goes to 0
    with pytest.warns(SingularFitWarning) as caught:
        bm.lmer("Reaction ~ Days + (Days | Subject) + (1 | h)", sleep)
    message = str(caught[0].message)
    assert "(1 | h): the variance of (Intercept) is estimated as 0 (theta h.(Intercept) = 0" in message
    assert "consider dropping (1 | h)" in message
    assert "||" not in message


def test_zero_variance_column_of_a_vector_term_is_named(slopes):
    term = build_design("y ~ x + (x | g)", slopes).terms[0]
    block = np.array([[1.2, 0.0], [0.0, 0.0]])  # the slope's row of Λ is zero: its variance is 0
    message = singular_fit_message([term], [block], 1e-4)
    assert "(x | g): the variance of x is estimated as 0 (theta g.x = 0, its lower bound)" in message
    assert "drop x from it (its variance is 0), or fit the columns without correlations, (x || g)" in message


def test_regular_fit_does_not_warn(recwarn):
    bm.lmer(SLEEP, bm.datasets.load("sleepstudy"))
    assert not [w for w in recwarn if issubclass(w.category, SingularFitWarning)]
