"""bayesmixed: mixed-effects models in lme4's formula language, fitted by ML, REML and Bayes."""

__version__ = "0.1.0"
