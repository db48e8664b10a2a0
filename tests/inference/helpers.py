"""Fits shared by the inference tests, each made once per session."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import bayesmixed as bm

INFERENCE_REFERENCE = Path(__file__).parents[1] / "reference" / "inference_reference.json"

SLEEP_CORRELATED = "Reaction ~ Days + (Days | Subject)"
SLEEP_UNCORRELATED = "Reaction ~ Days + (Days || Subject)"
SLEEP_INTERCEPT = "Reaction ~ Days + (1 | Subject)"
SLEEP_NO_DAYS = "Reaction ~ 1 + (Days | Subject)"


@lru_cache(maxsize=1)
def inference_reference() -> dict:
    """lme4's confint and anova values (tests/reference/make_inference_reference.R)."""
    return json.loads(INFERENCE_REFERENCE.read_text())


@lru_cache(maxsize=None)
def lmm(formula: str, data: str = "sleepstudy", reml: bool = True):
    return bm.lmer(formula, bm.datasets.load(data), REML=reml)


@lru_cache(maxsize=None)
def bayes(formula: str, seed: int = 1):
    """A short posterior run: enough draws for LOO's machinery, not for publication."""
    model = bm.Model(formula, bm.datasets.load("sleepstudy"))
    return model.fit("bayes", draws=300, tune=300, chains=2, seed=seed, progressbar=False, warn=False)
