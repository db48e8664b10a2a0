"""The `bayesmixed` command: list data sets, show how a formula is read, fit and compare models."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any, Callable

import typer
from rich.console import Console
from rich.table import Table

from ..errors import BayesmixedError

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
# Wide when piped, so tables and messages are not folded at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
error_console = Console(stderr=True, width=None if sys.stderr.isatty() else 1000)


def run_reporting_errors(action: Callable[[], Any]) -> Any:
    """Run a command; bad input becomes a one-line error and exit status 2, warnings one line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = action()
        except BayesmixedError as exc:
            _print_warnings(caught)
            error_console.print(f"[bold red]error:[/] {exc.one_line()}", highlight=False, markup=True)
            raise typer.Exit(code=2) from None
        except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            error_console.print(f"[bold red]error:[/] cannot read {exc.filename!r}: {exc.strerror}", highlight=False)
            raise typer.Exit(code=2) from None
    _print_warnings(caught)
    return result


def _print_warnings(caught: list[warnings.WarningMessage]) -> None:
    for warning in caught:
        if issubclass(warning.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
            continue
        text = " ".join(str(warning.message).split())
        error_console.print(f"[yellow]warning:[/] {text}", highlight=False)


def read_data(source: str):
    """A bundled data set by name, or a CSV file by path."""
    import pandas as pd

    from .. import datasets

    if source.lower() in datasets.DATASETS:
        return datasets.load(source)
    path = Path(source)
    if path.suffix.lower() in (".csv", ".gz", ".txt", ".tsv") or path.exists():
        if not path.exists():
            raise BayesmixedError(f"no such file {source!r} (and no bundled data set of that name)")
        separator = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            return pd.read_csv(path, sep=separator)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
            raise BayesmixedError(f"cannot read {source!r} as a table: {' '.join(str(exc).split())}") from None
    known = ", ".join(datasets.names())
    raise BayesmixedError(f"{source!r} is neither a bundled data set ({known}) nor a CSV file")


@app.command("datasets")
def datasets_command() -> None:
    """List the bundled data sets with an example formula for each."""
    from .. import datasets

    table = Table(title="bundled data sets")
    for column in ("name", "rows", "example", "description"):
        table.add_column(column, overflow="fold")
    for _, row in datasets.list().iterrows():
        table.add_row(row["name"], f"{row['rows']:,}", row["example"], row["description"])
    console.print(table)


@app.command("parse")
def parse_command(
    formula: str = typer.Argument(..., help="lme4 formula, e.g. 'Reaction ~ Days + (Days | Subject)'"),
    data: str = typer.Option(..., "--data", "-d", help="bundled data set name or CSV path"),
    family: str = typer.Option("gaussian", "--family", "-f", help="gaussian, binomial, poisson or negbin (NB2)"),
) -> None:
    """Show how a formula is read: the fixed effects, each random term, and the sizes of X and each Z."""
    from ..model import Model

    model = run_reporting_errors(lambda: Model(formula, read_data(data), family=family))
    design = model.design
    console.print(f"formula: {design.formula}", highlight=False)
    console.print(f"family: {design.family}   response: {design.response}   n = {design.n:,}", highlight=False)
    console.print(f"X: {design.n:,} x {design.p}  [{', '.join(design.fixef_names) or 'no columns'}]", highlight=False)
    if design.dropped_fixef:
        console.print(f"dropped as aliased: {', '.join(design.dropped_fixef)}", highlight=False)
    table = Table(title="random terms (lme4's order)")
    for column in ("term", "group", "levels", "columns", "correlated", "Z (rows x cols)", "nonzeros", "theta"):
        table.add_column(column)
    for term in design.terms:
        table.add_row(
            term.label,
            term.group,
            f"{term.n_levels:,}",
            ", ".join(term.columns),
            "yes" if term.has_correlations else "no",
            f"{term.Z.shape[0]:,} x {term.Z.shape[1]:,}",
            f"{term.Z.nnz:,}",
            ", ".join(term.theta_names()),
        )
    console.print(table)


@app.command("fit")
def fit_command(
    formula: str = typer.Argument(..., help="lme4 formula, or a model spec file (models/*.toml) to fit as it says"),
    data: str = typer.Argument(None, help="bundled data set name or CSV path (not with a spec file)"),
    method: str = typer.Option(None, "--method", "-m",
                               help="reml, ml or bayes (default: reml for gaussian, ml (Laplace) otherwise)"),
    family: str = typer.Option("gaussian", "--family", "-f", help="gaussian, binomial, poisson or negbin (NB2)"),
    weights: str = typer.Option(None, "--weights", "-w",
                                help="column of prior weights (gaussian: variance σ²/w; binomial: trials of a proportion)"),
    draws: int = typer.Option(1000, help="posterior draws per chain (bayes)"),
    tune: int = typer.Option(1000, help="tuning steps per chain (bayes)"),
    chains: int = typer.Option(4, help="chains (bayes)"),
    seed: int = typer.Option(None, help="random seed (bayes)"),
    sampler: str = typer.Option(None, help="NUTS implementation (bayes): numba (default, compiled once and cached), pymc, nutpie or numpyro"),
    nagq: int = typer.Option(1, help="adaptive Gauss-Hermite points (ml, binomial/poisson; 1 = Laplace)"),
    link: str = typer.Option(None, help="link function (ml, binomial: logit, probit or cloglog)"),
    quick: bool = typer.Option(False, "--quick", help="spec files: short chains, for a draft"),
) -> None:
    """Fit a model and print its summary (lme4's for REML/ML, the posterior's for Bayes); given a spec file,
    fit every model it names by each of its methods."""
    from ..model import Model

    if formula.endswith(".toml"):
        if data is not None:
            run_reporting_errors(lambda: _raise(f"a spec file names its own data; drop {data!r}"))
        _fit_spec_command(formula, quick)
        return
    if data is None:
        run_reporting_errors(lambda: _raise("fit needs DATA (a bundled data set or CSV path) after the formula"))

    def fit():
        model = Model(formula, read_data(data), family=family, weights=weights)
        chosen = method or ("reml" if model.family == "gaussian" else "ml")
        options: dict[str, Any] = {}
        if chosen.lower() == "bayes":
            options = {"draws": draws, "tune": tune, "chains": chains, "seed": seed}
            if sampler:
                options["sampler"] = sampler
        elif model.family != "gaussian":
            options = {"nagq": nagq} | ({"link": link} if link else {})
        elif nagq != 1 or link:
            raise BayesmixedError("--nagq and --link apply to binomial and Poisson models only")
        return model.fit(chosen, **options)

    result = run_reporting_errors(fit)
    console.print(str(result.summary()), highlight=False, markup=False)


def _raise(message: str) -> None:
    raise BayesmixedError(message)


def _fit_spec_command(path: str, quick: bool) -> None:
    from ..specs import fit_spec, load_spec

    fitted = run_reporting_errors(lambda: fit_spec(load_spec(path, quick=quick or None)))
    for label, by_method in fitted.fits.items():
        for method, result in by_method.items():
            console.rule(f"{label}: {method}", style="dim")
            console.print(str(result.summary()), highlight=False, markup=False)


@app.command("report")
def report_command(
    spec: str = typer.Argument(..., help="model spec file, e.g. models/sleepstudy.toml"),
    output: str = typer.Option(..., "--output", "-o", help="report file: .html (self-contained) or .md (figures in a folder beside it)"),
    quick: bool = typer.Option(False, "--quick", help="short chains and a small bootstrap, for a draft"),
    progress: bool | None = typer.Option(None, "--progress/--no-progress",
                                         help="show what is being fitted (default: when stderr is a terminal)"),
) -> None:
    """Fit what a model spec names by ML, REML and Bayes and write one report: estimates side by side,
    information criteria, LRTs and the parametric bootstrap, LOO, diagnostic panels, simulated residuals."""
    from ..reports import report

    path = run_reporting_errors(lambda: report(spec, output, quick=quick or None, progress=progress))
    size = path.stat().st_size
    console.print(f"wrote {path} ({size / 1e6:.1f} MB)", highlight=False)


@app.command("compare")
def compare_command(
    formula0: str = typer.Argument(..., help="the smaller (null) model's formula"),
    formula1: str = typer.Argument(..., help="the bigger model's formula, with formula0 nested in it"),
    data: str = typer.Argument(..., help="bundled data set name or CSV path"),
    bootstrap: int = typer.Option(0, "--bootstrap", "-b", help="parametric-bootstrap simulations (0: none)"),
    seed: int = typer.Option(None, help="random seed of the bootstrap"),
    family: str = typer.Option("gaussian", "--family", "-f", help="gaussian, binomial, poisson or negbin (NB2)"),
    weights: str = typer.Option(None, "--weights", "-w", help="column of prior weights, used by both models"),
) -> None:
    """Likelihood-ratio test of two nested models, both fitted by ML (lme4's anova), and optionally its
    parametric bootstrap (the smaller model simulated, both refitted)."""
    from ..inference import anova, bootstrap_lrt
    from ..model import Model

    def fits():
        frame = read_data(data)
        return tuple(Model(formula, frame, family=family, weights=weights).fit("ml") for formula in (formula0, formula1))

    small, big = sorted(run_reporting_errors(fits), key=lambda fit: fit.npar)
    console.print(str(run_reporting_errors(lambda: anova(small, big))), highlight=False, markup=False)
    if bootstrap != 0:
        result = run_reporting_errors(lambda: bootstrap_lrt(small, big, n=bootstrap, seed=seed))
        console.print(str(result), highlight=False, markup=False)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
