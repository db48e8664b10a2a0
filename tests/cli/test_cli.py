"""The command line: data sets, parse, and the import-time promise."""

from __future__ import annotations

import subprocess
import sys

from tests.design.test_bad_input import run_cli


def test_datasets_command_lists_bundled_sets():
    result = run_cli("datasets")
    assert result.returncode == 0
    for name in ("sleepstudy", "insteval", "households", "verbagg"):
        assert name in result.stdout


def test_parse_prints_terms_and_sizes():
    result = run_cli("parse", "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)", "--data", "insteval")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "X: 73,421 x 2" in out
    assert "73,421 x 2,972" in out and "73,421 x 1,128" in out and "73,421 x 14" in out
    assert out.index("(1 | s)") < out.index("(1 | d)") < out.index("(1 | dept)")


def test_parse_shows_double_bar_expansion():
    result = run_cli("parse", "Reaction ~ Days + (Days || Subject)", "--data", "sleepstudy")
    assert "(1 | Subject)" in result.stdout and "(0 + Days | Subject)" in result.stdout


def test_import_is_fast_and_does_not_import_pymc():
    code = (
        "import time, sys; t = time.perf_counter(); import bayesmixed; bayesmixed.Model; "
        "elapsed = time.perf_counter() - t; "
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('pymc', 'pytensor', 'arviz', 'numba')]; "
        "print(elapsed, heavy)"
    )
    import_only = subprocess.run([sys.executable, "-c", code.replace(" bayesmixed.Model;", "")],
                                 capture_output=True, text=True, timeout=60)
    elapsed, heavy = import_only.stdout.split(" ", 1)
    assert float(elapsed) < 1.0
    assert heavy.strip() == "[]"
    with_model = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert with_model.stdout.split(" ", 1)[1].strip() == "[]"
