"""bayesmixed.progress: the one progress display; the sampler, the bootstrap and the report go through it, it
is off by default when stderr is not a terminal, and nothing else in the package draws its own."""

from __future__ import annotations

import ast
import io
import sys
from pathlib import Path

import pytest

import bayesmixed as bm
import bayesmixed.progress as progress
from bayesmixed.engines.bayes import fit_bayes
from tests.inference.helpers import SLEEP_INTERCEPT, SLEEP_UNCORRELATED, lmm

PACKAGE = Path(progress.__file__).parent
DRAWS, TUNE, CHAINS, BOOT = 20, 30, 2, 4


class FakeDisplay:
    """Stands in for rich's Progress: records the task and every update."""

    def __init__(self, bar: bool):
        self.bar, self.tasks, self.advanced, self.descriptions = bar, [], 0, []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def add_task(self, description, total):
        self.tasks.append((description, total))
        return len(self.tasks) - 1

    def update(self, task, advance=0, description=None):
        self.advanced += advance
        if description is not None:
            self.descriptions.append(description)


@pytest.fixture
def displays(monkeypatch):
    made: list[FakeDisplay] = []

    def fake(bar: bool) -> FakeDisplay:
        made.append(FakeDisplay(bar))
        return made[-1]

    monkeypatch.setattr(progress, "_rich_display", fake)
    return made


def sample(progressbar, tmp_path):
    design = bm.Model("Yield ~ 1 + (1 | Batch)", bm.datasets.load("dyestuff")).design
    fit_bayes(design, draws=DRAWS, tune=TUNE, chains=CHAINS, seed=1, progressbar=progressbar, warn=False)
    return "Sampling", CHAINS * (DRAWS + TUNE)


def bootstrap(progressbar, tmp_path):
    small, big = lmm(SLEEP_INTERCEPT, reml=False), lmm(SLEEP_UNCORRELATED, reml=False)
    bm.bootstrap_lrt(small, big, n=BOOT, seed=1, progress=progressbar)
    return "bootstrap LRT", BOOT


def report(progressbar, tmp_path):
    fit = lmm("Yield ~ 1 + (1 | Batch)", data="dyestuff")
    bm.report({"dye": fit}, tmp_path / "dye.md", progress=progressbar)
    return "report", None


CALLERS = [sample, bootstrap, report]


@pytest.mark.parametrize("caller", CALLERS, ids=lambda caller: caller.__name__)
def test_each_caller_shows_the_one_display_when_asked(caller, displays, tmp_path):
    description, total = caller(True, tmp_path)
    assert len(displays) == 1
    (shown,) = displays
    (task,) = shown.tasks
    assert task[0].startswith(description) and task[1] == total
    assert shown.bar == (total is not None)
    if total is None:  # a spinner moved on by the report's steps
        assert "report: fitted" in shown.descriptions and len(shown.descriptions) >= 5
    else:
        assert shown.advanced == total


@pytest.mark.parametrize("caller", CALLERS, ids=lambda caller: caller.__name__)
def test_nothing_is_shown_off_a_terminal(caller, displays, tmp_path, capfd, monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    caller(None, tmp_path)
    assert displays == []
    assert capfd.readouterr().err == ""


def test_default_follows_the_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert not progress.progress_wanted(None)  # pytest's captured stderr is no terminal
    monkeypatch.setattr("sys.stderr", Terminal())
    assert progress.progress_wanted(None)
    assert not progress.progress_wanted(False)
    monkeypatch.setenv("CI", "true")
    assert not progress.progress_wanted(None)
    assert progress.progress_wanted(True)


@pytest.mark.parametrize("widgets", [True, False])
def test_a_notebook_shows_it_only_with_ipywidgets(widgets, monkeypatch):
    """rich draws in Jupyter through ipywidgets and warns when they are missing."""
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(progress.importlib.util, "find_spec",
                        lambda name: object() if widgets and name == "ipywidgets" else None)
    assert progress.progress_wanted(None) is widgets
    assert progress.progress_wanted(True)


def test_display_off_is_a_handle_that_does_nothing(displays):
    with progress.progress_display("work", 3, progressbar=False) as handle:
        handle.advance(3)
        handle.describe("done")
    assert displays == []


def test_no_other_module_draws_its_own_progress():
    """rich.progress is imported in bayesmixed/progress.py only."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(name.startswith(("rich.progress", "tqdm")) for name in names) and path.name != "progress.py":
                offenders.append(str(path.relative_to(PACKAGE)))
    assert offenders == []
