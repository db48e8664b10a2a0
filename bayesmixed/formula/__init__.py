"""Formula stage: lme4 formula text -> response, fixed part, offsets and expanded random terms."""

from .terms import ParsedFormula, RandomTermSpec, parse_formula

__all__ = ["ParsedFormula", "RandomTermSpec", "parse_formula"]
