"""bayesmixed: mixed-effects models in lme4's formula language, fitted by ML, REML and Bayes side by side.

The public surface is loaded lazily so that `import bayesmixed` stays fast and never imports PyMC.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "Model": ("bayesmixed.model", "Model"),
    "Design": ("bayesmixed.design", "Design"),
    "build_design": ("bayesmixed.design", "build_design"),
    "datasets": ("bayesmixed.datasets", None),
    "BayesmixedError": ("bayesmixed.errors", "BayesmixedError"),
    "FormulaError": ("bayesmixed.errors", "FormulaError"),
    "DataError": ("bayesmixed.errors", "DataError"),
    "lmer": ("bayesmixed.engines.lmm.api", "lmer"),
    "glmer": ("bayesmixed.engines.glmm.api", "glmer"),
    "prior": ("bayesmixed.engines.bayes.prior", None),
    "anova": ("bayesmixed.inference", "anova"),
    "bootstrap_lrt": ("bayesmixed.inference", "bootstrap_lrt"),
    "drop1": ("bayesmixed.inference", "drop1"),
    "compare": ("bayesmixed.inference", "compare"),
    "kfold": ("bayesmixed.inference.kfold", "kfold"),
    "side_by_side": ("bayesmixed.inference", "side_by_side"),
    "aic_table": ("bayesmixed.inference", "aic_table"),
    "confint": ("bayesmixed.inference", "confint"),
    "plots": ("bayesmixed.plots", None),
    "report": ("bayesmixed.reports", "report"),
    "simulate_residuals": ("bayesmixed.inference", "simulate_residuals"),
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'bayesmixed' has no attribute {name!r}")
    module_name, attribute = _EXPORTS[name]
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
