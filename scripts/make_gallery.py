"""Writes docs/gallery/*.png, the README's gallery: figures of the reports of models/sleepstudy.toml,
households.toml and cbpp.toml, drawn by the report's own code, and a screenshot of one report in Chromium.

    python scripts/make_gallery.py            # full chains and bootstrap, as `bayesmixed report` runs them
    python scripts/make_gallery.py --quick    # short chains, for trying the script out
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from bayesmixed.reports.build import ReportContext, build_document
from bayesmixed.reports.document import Figure, Panel
from bayesmixed.specs import fit_spec, load_spec

ROOT = Path(__file__).resolve().parent.parent
GALLERY = ROOT / "docs" / "gallery"
# (spec, figure name in the report, file name in the gallery)
WANTED = [
    ("sleepstudy", "correlated-reml-resid-fitted", "residuals_vs_fitted.png"),
    ("sleepstudy", "correlated-reml-qq-ranef", "qq_random_effects.png"),
    ("sleepstudy", "correlated-reml-caterpillar", "caterpillar.png"),
    ("sleepstudy", "correlated-bayes-ppc-group", "posterior_predictive_by_group.png"),
    ("sleepstudy", "correlated-rank", "rank_plots.png"),
    ("households", "partial-pooling-reml-shrinkage", "shrinkage.png"),
    ("households", "partial-pooling-bayes-prior-predictive", "prior_predictive.png"),
    ("cbpp", "period-ml-dharma", "simulated_residuals_ml.png"),
    ("cbpp", "period-bayes-dharma", "simulated_residuals_bayes.png"),
]


def figures_of(stem: str, quick: bool) -> dict[str, bytes]:
    """name -> PNG of every figure in the spec's report."""
    spec = load_spec(ROOT / "models" / f"{stem}.toml", quick=quick)
    fitted = fit_spec(spec, ml_for_comparison=True)
    context = ReportContext(fitted.fits, spec, spec.data, fitted.seconds, fitted.extra_ml)
    found = {}
    for section in build_document(context, spec.title, spec.description).sections:
        for block in section.blocks:
            for figure in block.figures if isinstance(block, Panel) else (block,):
                if isinstance(figure, Figure):
                    found[figure.name] = figure.png
    return found


def screenshot(stem: str, quick: bool) -> None:
    """A screenshot of the top of the estimates section of the spec's HTML report, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    from bayesmixed.reports import report

    html = report(ROOT / "models" / f"{stem}.toml", GALLERY / f"{stem}_report.html", quick=quick, progress=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(html.as_uri())
        page.evaluate("document.getElementById('estimates').scrollIntoView()")
        page.screenshot(path=str(GALLERY / "report_estimates.png"))
        browser.close()
    html.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short chains and bootstrap")
    arguments = parser.parse_args()
    GALLERY.mkdir(parents=True, exist_ok=True)
    for stem in dict.fromkeys(spec for spec, _, _ in WANTED):
        figures = figures_of(stem, arguments.quick)
        for _, name, file_name in (entry for entry in WANTED if entry[0] == stem):
            (GALLERY / file_name).write_bytes(figures[name])
            print(f"wrote {GALLERY / file_name}")
    if shutil.which("chromium"):
        screenshot("sleepstudy", arguments.quick)
        print(f"wrote {GALLERY / 'report_estimates.png'}")


if __name__ == "__main__":
    main()
