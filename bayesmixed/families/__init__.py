"""Response families as objects (one module each), found through one registry: `get_family(name, link)`."""

from .base import Family
from .binomial import Binomial
from .gaussian import Gaussian
from .links import Link
from .negbin import NegativeBinomial
from .poisson import Poisson
from .registry import FAMILIES, family_name, get_family

__all__ = ["FAMILIES", "Binomial", "Family", "Gaussian", "Link", "NegativeBinomial", "Poisson", "family_name", "get_family"]
