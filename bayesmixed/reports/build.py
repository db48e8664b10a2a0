"""`report(spec_or_fits, path)`: fit what a spec names (with a progress display), build the sections, and write
one self-contained HTML file (`.html`) or markdown with a figure folder (`.md`)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import BayesmixedError
from ..progress import progress_display
from ..specs import ModelSpec, SpecFits, fit_spec, load_spec
from .document import Document
from .sections import bayes_comparison_section, criteria_section, estimates_section, fitted_section, lrt_section

PRIOR_DRAWS = 200
FORMATS = (".html", ".htm", ".md")


@dataclass
class ReportContext:
    """What the sections read: fits[label][method], the spec (None for fits passed in), and progress."""

    fits: dict[str, dict[str, Any]]
    spec: ModelSpec | None
    data_label: str
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    extra_ml: tuple[str, ...] = ()
    step: Callable[[str], None] = lambda what: None
    _prior_fits: dict[str, Any] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        found = {method for by_method in self.fits.values() for method in by_method}
        return [method for method in ("reml", "ml", "bayes") if method in found]

    @property
    def family(self) -> str:
        return self.first_fit().design.family

    def diagnosed(self) -> dict[str, dict[str, Any]]:
        """The models whose figures are drawn: all of them, or the first only in a quick (draft) report."""
        if self.spec is not None and self.spec.quick:
            first = next(iter(self.fits))
            return {first: self.fits[first]}
        return self.fits

    def first_fit(self) -> Any:
        return next(iter(next(iter(self.fits.values())).values()))

    def prior_fit(self, label: str) -> Any | None:
        """Draws from the prior and prior predictive of the model's Bayesian fit (its own priors and seed)."""
        bayes = self.fits[label].get("bayes")
        if bayes is None:
            return None
        if label not in self._prior_fits:
            from ..engines.bayes import fit_bayes

            self.step(f"prior predictive {label}")
            overrides = {entry.name: entry.prior for entry in bayes.priors if entry.rule == "user"}
            self._prior_fits[label] = fit_bayes(bayes.design, prior_only=True, draws=PRIOR_DRAWS, chains=1,
                                                seed=bayes.seed, priors=overrides or None, progressbar=False)
        return self._prior_fits[label]


def _method_of(fit: Any) -> str:
    from ..inference.fits import is_bayesian, is_reml

    if is_bayesian(fit):
        return "bayes"
    return "reml" if is_reml(fit) else "ml"


def _fits_context(fits: Any) -> ReportContext:
    """Fits passed in: {label: fit}, {label: {method: fit}}, a list of fits, or one fit."""
    if not isinstance(fits, (Mapping, list, tuple)):
        fits = [fits]
    if not isinstance(fits, Mapping):
        fits = {f"model {i + 1}": fit for i, fit in enumerate(fits)}
    grouped: dict[str, dict[str, Any]] = {}
    for label, value in fits.items():
        if isinstance(value, Mapping):
            grouped[str(label)] = {str(method).lower(): fit for method, fit in value.items()}
        else:  # a flat {label: fit}: fits of one formula by several methods join one model
            formula = value.design.formula
            target = next((name for name, by in grouped.items()
                           if next(iter(by.values())).design.formula == formula and _method_of(value) not in by),
                          str(label))
            grouped.setdefault(target, {})[_method_of(value)] = value
    if not grouped:
        raise BayesmixedError("report needs a spec file or at least one fitted model")
    for label, by_method in grouped.items():
        for method, fit in by_method.items():
            if not hasattr(fit, "design"):
                raise BayesmixedError(f"report: {label!r} ({method}) is a {type(fit).__name__}, not a bayesmixed fit")
    first = next(iter(next(iter(grouped.values())).values())).design
    return ReportContext(grouped, None, f"{first.n:,} rows passed in with the fits")


@contextmanager
def _progress(progressbar: bool | None) -> Iterator[Callable[[str], None]]:
    """`step(what)`: the report's current step beside a spinner and the time so far (bayesmixed.progress)."""
    with progress_display("report: starting", progressbar=progressbar) as display:
        yield lambda what: display.describe(f"report: {what}")


def build_document(context: ReportContext, title: str, subtitle: str) -> Document:
    from .diagnostics import diagnostics_section, sampler_section, simulated_residuals_section

    builders = (fitted_section, estimates_section, criteria_section, lrt_section, bayes_comparison_section,
                diagnostics_section, simulated_residuals_section, sampler_section)
    sections = []
    for builder in builders:
        context.step(builder.__name__.replace("_section", "").replace("_", " "))
        sections.append(builder(context))
    return Document(title, subtitle, sections)


def report(source: Any, path: str | Path, quick: bool | None = None, progress: bool | None = None) -> Path:
    """Write a report of a spec (a models/*.toml path or a ModelSpec: fitted here) or of fits
    ({label: fit}, {label: {method: fit}}, a list, or one fit) to path: .html (one self-contained file)
    or .md (markdown, figures in <stem>_files/).  quick shortens chains and the bootstrap (see specs);
    progress: see bayesmixed.progress (shown when stderr is a terminal)."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise BayesmixedError(f"report writes .html or .md files; got {str(path)!r}")
    started = time.perf_counter()
    with _progress(progress) as step, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the report states each problem itself (diagnostics, notes)
        if isinstance(source, (str, Path)) and str(source).endswith(".toml"):
            source = load_spec(source, quick=quick)
        elif isinstance(source, ModelSpec) and quick:
            source = source.quickened()
        if isinstance(source, ModelSpec):
            fitted: SpecFits = fit_spec(source, progress=lambda what: step(f"fitting {what}"), ml_for_comparison=True)
            context = ReportContext(fitted.fits, source, source.data, fitted.seconds, fitted.extra_ml, step)
            title, subtitle = source.title, source.description.strip() or ", ".join(source.models.values())
        else:
            context = _fits_context(source)
            context.step = step
            title, subtitle = "bayesmixed report", ", ".join(
                next(iter(by.values())).design.formula for by in context.fits.values())
        document = build_document(context, title, subtitle)
        document.subtitle += f" (report built in {time.perf_counter() - started:.0f} s)"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".md":
            from .markdown import write_markdown

            write_markdown(document, path)
        else:
            from .html import render_html

            path.write_text(render_html(document), encoding="utf-8")
    return path
