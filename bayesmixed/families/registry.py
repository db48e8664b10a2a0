"""One registry of response families: `get_family("binomial", link="probit")` or a Family passed through."""

from __future__ import annotations

from ..errors import BayesmixedError, DataError
from .base import Family
from .binomial import Binomial
from .gaussian import Gaussian
from .links import Link
from .negbin import NegativeBinomial
from .poisson import Poisson

FAMILIES: dict[str, type[Family]] = {
    "gaussian": Gaussian,
    "binomial": Binomial,
    "poisson": Poisson,
    "negbin": NegativeBinomial,
}
# Other spellings users bring from R and glmmTMB.
ALIASES = {"nbinom2": "negbin", "negative_binomial": "negbin", "negativebinomial": "negbin", "nb": "negbin"}


def family_name(name: str) -> str:
    """The registry's name for `name` (case and R's aliases folded); a clear error for an unknown one."""
    key = str(name).lower()
    key = ALIASES.get(key, key)
    if key not in FAMILIES:
        raise DataError(f"unknown family {name!r}; choose one of {', '.join(FAMILIES)}")
    return key


def get_family(family: str | Family, link: str | None = None, dispersion: float | None = None) -> Family:
    """The family object for a name (with `link`, default the family's first: logit, log, identity) or the
    Family itself (a `link` then has to agree with its own)."""
    if isinstance(family, Family):
        if link is not None and str(link).lower() != family.link.name:
            raise BayesmixedError(f"link {link!r} differs from the family object's link {family.link.name!r}")
        return family
    cls = FAMILIES[family_name(family)]
    choice = cls.links[0] if link is None else str(link).lower()
    if choice not in cls.links:
        raise BayesmixedError(f"link {link!r} is not available for the {cls.name} family; choose one of {', '.join(cls.links)}")
    return cls(Link(choice), dispersion)
