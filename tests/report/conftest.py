"""Quick reports (short chains, small bootstrap) of the worked specs, built once per session and shared."""

from __future__ import annotations

from pathlib import Path

import pytest

SPEC_DIR = Path(__file__).parent.parent.parent / "models"
SPECS = sorted(SPEC_DIR.glob("*.toml"))
# The specs whose reports the fast tests open; the others are @slow.
FAST_SPECS = ("sleepstudy", "cbpp")


class ReportCache:
    """report(spec) -> path of its quick HTML report, built on first use."""

    def __init__(self, folder: Path):
        self.folder, self.paths = folder, {}

    def html(self, stem: str) -> Path:
        if stem not in self.paths:
            from bayesmixed.reports import report

            self.paths[stem] = report(SPEC_DIR / f"{stem}.toml", self.folder / f"{stem}.html", quick=True,
                                      progress=False)
        return self.paths[stem]


@pytest.fixture(scope="session")
def reports(tmp_path_factory) -> ReportCache:
    return ReportCache(tmp_path_factory.mktemp("reports"))
