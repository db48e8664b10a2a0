"""Runnable model specs: a `models/*.toml` file names data, formulas to compare, a family, methods, priors
and sampler settings; `load_spec` reads and validates it, `fit_spec` fits what it names.

Every problem with a spec (unknown key, wrong type, unknown data set, a prior that does not parse or names no
parameter) is one `SpecError` naming the file and the key.
"""

from __future__ import annotations

import ast
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from .errors import BayesmixedError
from .families.registry import FAMILIES as FAMILY_CLASSES

METHODS = ("reml", "ml", "bayes")
FAMILIES = tuple(FAMILY_CLASSES)  # every registered family, negative binomial included
INTERVALS = ("profile", "boot", "wald")
PRIOR_CONSTRUCTORS = ("Normal", "StudentT", "Cauchy", "HalfNormal", "HalfStudentT", "HalfCauchy", "Exponential", "InverseSqrtHalfNormal",
                      "LKJ")
# Environment variable that makes every spec run with short chains and few bootstrap samples (tests, CI, drafts).
QUICK_ENV = "BAYESMIXED_QUICK"


class SpecError(BayesmixedError):
    """A model spec that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class SamplerSettings:
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 1
    sampler: str = "numba"


@dataclass(frozen=True)
class BootstrapSettings:
    n: int = 200
    seed: int = 1


@dataclass(frozen=True)
class ModelSpec:
    """One validated spec: `models` maps a label to a formula, all fitted to the same data by each method."""

    name: str
    path: Path | None
    title: str
    description: str
    data: str
    family: str
    methods: tuple[str, ...]
    models: dict[str, str]
    priors: dict[str, str] = field(default_factory=dict)
    sampler: SamplerSettings = SamplerSettings()
    bootstrap: BootstrapSettings = BootstrapSettings()
    intervals: str = "profile"
    loo_unit: str = "observation"
    quick: bool = False

    def where(self) -> str:
        return str(self.path) if self.path is not None else self.name

    def load_data(self) -> pd.DataFrame:
        """The bundled data set of that name, or the CSV file (a relative path is read beside the spec)."""
        from . import datasets

        if self.data.lower() in datasets.DATASETS:
            return datasets.load(self.data)
        path = Path(self.data)
        if not path.is_absolute() and self.path is not None:
            path = self.path.parent / path
        if not path.exists():
            raise SpecError(f"{self.where()}: data = {self.data!r} is neither a bundled data set "
                            f"({', '.join(datasets.names())}) nor an existing CSV file ({path})")
        return pd.read_csv(path)

    def prior_overrides(self, design: Any) -> dict[str, Any]:
        """The spec's priors that name parameters of this design, as bm.prior objects."""
        from .engines.bayes.prior import default_priors

        known = set(default_priors(design).names)
        return {name: parse_prior(text, f"{self.where()}: priors.{name!r}") for name, text in self.priors.items()
                if name in known}

    def quickened(self) -> "ModelSpec":
        """The same spec with short chains, a small bootstrap and Wald intervals: for tests and drafts."""
        short = replace(self.sampler, draws=min(self.sampler.draws, 150), tune=min(self.sampler.tune, 150),
                        chains=min(self.sampler.chains, 2))
        return replace(self, sampler=short, bootstrap=replace(self.bootstrap, n=min(self.bootstrap.n, 19)),
                       intervals="wald", quick=True)


def quick_requested() -> bool:
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def parse_prior(text: str, where: str) -> Any:
    """'HalfNormal(20)' or 'Normal(mu=0, sigma=5)' -> the bm.prior object; only numbers as arguments."""
    from .engines.bayes import prior as prior_module

    try:
        call = ast.parse(str(text).strip(), mode="eval").body
    except SyntaxError:
        call = None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise SpecError(f"{where} = {text!r} is not a prior such as 'HalfNormal(20)' or 'Normal(0, 5)'")
    if call.func.id not in PRIOR_CONSTRUCTORS:
        raise SpecError(f"{where}: unknown prior {call.func.id!r}; choose one of {', '.join(PRIOR_CONSTRUCTORS)}")
    try:
        args = [_number(node) for node in call.args]
        kwargs = {keyword.arg: _number(keyword.value) for keyword in call.keywords}
        return getattr(prior_module, call.func.id)(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where} = {text!r}: {exc}") from None


def _number(node: ast.AST) -> float:
    value = ast.literal_eval(node)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"prior arguments must be numbers, got {value!r}")
    return float(value)


# ---- schema ---------------------------------------------------------------------------------------------
TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "true/false", list: "list", dict: "table"}


def _type_name(value: Any) -> str:
    return TYPE_NAMES.get(type(value), type(value).__name__)


class _Reader:
    """Takes keys out of one TOML table, checking types; leftovers are unknown keys."""

    def __init__(self, where: str, table: dict[str, Any], prefix: str = ""):
        self.where, self.table, self.prefix, self.used = where, table, prefix, set()

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, message: str) -> SpecError:
        return SpecError(f"{self.where}: {self.key(name)} {message}")

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., check: Callable[[Any], str | None] | None = None) -> Any:
        self.used.add(name)
        if name not in self.table:
            if default is ...:
                raise SpecError(f"{self.where}: missing key {self.key(name)!r}")
            return default
        value = self.table[name]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            wanted = " or ".join(("an " if TYPE_NAMES[k][0] in "aeiou" else "a ") + TYPE_NAMES[k] for k in kinds)
            raise self.fail(name, f"must be {wanted}, got {value!r} ({_type_name(value)})")
        problem = check(value) if check else None
        if problem:
            raise self.fail(name, problem)
        return value

    def finish(self, allowed: tuple[str, ...]) -> None:
        unknown = [name for name in self.table if name not in self.used]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], allowed, n=1)
            hint = f" (did you mean {self.key(close[0])!r}?)" if close else ""
            raise SpecError(f"{self.where}: unknown key {self.key(unknown[0])!r}{hint}; allowed here: "
                            f"{', '.join(allowed)}")


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str | None]:
    return lambda value: None if value in choices else f"must be one of {', '.join(choices)}, got {value!r}"


def _positive(value: Any) -> str | None:
    return None if value >= 1 else f"must be at least 1, got {value!r}"


TOP_KEYS = ("name", "title", "description", "data", "family", "methods", "models", "priors", "sampler", "bootstrap",
            "report")
SAMPLER_KEYS = ("draws", "tune", "chains", "seed", "sampler")
BOOTSTRAP_KEYS = ("n", "seed")
REPORT_KEYS = ("intervals", "loo_unit")


def spec_from_dict(raw: dict[str, Any], where: str, path: Path | None = None) -> ModelSpec:
    """Validate a parsed TOML table against the spec schema."""
    top = _Reader(where, raw)
    default_name = path.stem if path is not None else "spec"
    name = top.get("name", str, default_name)
    family = top.get("family", str, "gaussian", _one_of(FAMILIES))
    methods = top.get("methods", list, ["reml", "ml", "bayes"] if family == "gaussian" else ["ml", "bayes"])
    for method in methods:
        if method not in METHODS:
            raise top.fail("methods", f"holds {method!r}; choose from {', '.join(METHODS)}")
    if "reml" in methods and family != "gaussian":
        raise top.fail("methods", f"holds 'reml', which is defined for Gaussian models only (family = {family!r})")
    if not methods:
        raise top.fail("methods", "is empty")
    models = top.get("models", dict)
    if not models:
        raise top.fail("models", "is empty: give one or more `label = \"formula\"` lines")
    for label, formula in models.items():
        if not isinstance(formula, str):
            raise SpecError(f"{where}: models.{label} must be a formula string, got {formula!r} ({_type_name(formula)})")
    priors = top.get("priors", dict, {})
    for prior_name, text in priors.items():
        if not isinstance(text, str):
            raise SpecError(f"{where}: priors.{prior_name!r} must be a string such as 'HalfNormal(20)', got {text!r}")
        parse_prior(text, f"{where}: priors.{prior_name!r}")
    sampler_table = _Reader(where, top.get("sampler", dict, {}), "sampler.")
    sampler = SamplerSettings(
        draws=sampler_table.get("draws", int, SamplerSettings.draws, _positive),
        tune=sampler_table.get("tune", int, SamplerSettings.tune),
        chains=sampler_table.get("chains", int, SamplerSettings.chains, _positive),
        seed=sampler_table.get("seed", int, SamplerSettings.seed),
        sampler=sampler_table.get("sampler", str, SamplerSettings.sampler, _one_of(("numba", "pymc", "nutpie", "numpyro"))),
    )
    sampler_table.finish(SAMPLER_KEYS)
    boot_table = _Reader(where, top.get("bootstrap", dict, {}), "bootstrap.")
    bootstrap = BootstrapSettings(n=boot_table.get("n", int, BootstrapSettings.n, _positive),
                                  seed=boot_table.get("seed", int, BootstrapSettings.seed))
    boot_table.finish(BOOTSTRAP_KEYS)
    report_table = _Reader(where, top.get("report", dict, {}), "report.")
    intervals = report_table.get("intervals", str, "profile" if family == "gaussian" else "wald", _one_of(INTERVALS))
    loo_unit = report_table.get("loo_unit", str, "observation", _one_of(("observation", "group")))
    report_table.finish(REPORT_KEYS)
    spec = ModelSpec(
        name=name, path=path, title=top.get("title", str, name), description=top.get("description", str, ""),
        data=top.get("data", str), family=family, methods=tuple(methods), models=dict(models), priors=dict(priors),
        sampler=sampler, bootstrap=bootstrap, intervals=intervals, loo_unit=loo_unit,
    )
    top.finish(TOP_KEYS)
    return spec


def load_spec(path: str | Path, quick: bool | None = None) -> ModelSpec:
    """Read and validate a spec file; quick (default: the BAYESMIXED_QUICK environment variable) shortens it."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None
    spec = spec_from_dict(raw, str(path), path)
    return spec.quickened() if (quick_requested() if quick is None else quick) else spec


def check_priors_used(spec: ModelSpec, designs: list[Any]) -> None:
    """A prior that names no parameter of any model is a typo: say so with the names that exist."""
    from .engines.bayes.prior import default_priors

    known: list[str] = []
    for design in designs:
        known += [name for name in default_priors(design).names if name not in known]
    for name in spec.priors:
        if name not in known:
            import difflib

            close = difflib.get_close_matches(name, known, n=2, cutoff=0.4)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            raise SpecError(f"{spec.where()}: priors.{name!r} names no parameter of these models{hint}; "
                            f"parameters: {', '.join(known)}")


@dataclass
class SpecFits:
    """Everything fitted for a spec: fits[label][method], the data, timings (s) and the ML refits made for comparisons."""

    spec: ModelSpec
    data: pd.DataFrame
    fits: dict[str, dict[str, Any]]
    seconds: dict[tuple[str, str], float]
    extra_ml: tuple[str, ...] = ()


def fit_spec(spec: ModelSpec, progress: Callable[[str], None] | None = None, ml_for_comparison: bool = False) -> SpecFits:
    """Fit every model of the spec by each of its methods (Bayes with the spec's priors and sampler).

    ml_for_comparison adds ML fits, when the spec has none, for the likelihood-based comparisons (announced).
    """
    import time

    from .model import Model

    data = spec.load_data()
    models = {}
    for label, formula in spec.models.items():
        try:
            models[label] = Model(formula, data, family=spec.family)
        except BayesmixedError as exc:
            raise type(exc)(f"{spec.where()}: models.{label}: {exc}") from None
    check_priors_used(spec, [model.design for model in models.values()])
    methods = list(spec.methods)
    extra = ()
    if ml_for_comparison and len(models) > 1 and "ml" not in methods:
        methods.insert(0, "ml")
        extra = tuple(models)
    fits: dict[str, dict[str, Any]] = {label: {} for label in models}
    seconds: dict[tuple[str, str], float] = {}
    for label, model in models.items():
        for method in methods:
            if progress:
                progress(f"{label}: {method}")
            options: dict[str, Any] = {}
            if method == "bayes":
                options = {"draws": spec.sampler.draws, "tune": spec.sampler.tune, "chains": spec.sampler.chains,
                           "seed": spec.sampler.seed, "sampler": spec.sampler.sampler, "progressbar": False,
                           "priors": spec.prior_overrides(model.design) or None}
            started = time.perf_counter()
            fits[label][method] = model.fit(method, **options)
            seconds[(label, method)] = time.perf_counter() - started
    return SpecFits(spec, data, fits, seconds, extra)
