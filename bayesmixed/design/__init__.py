"""Design stage: formula + data -> X, y and sparse Z blocks (see types.Design)."""

from .build import build_design
from .types import Design, RandomTerm

__all__ = ["Design", "RandomTerm", "build_design"]
