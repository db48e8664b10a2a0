"""The shipped portable build of the NUTS sampler (engines/bayes/prebuilt.py): current, loaded, same draws."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from bayesmixed.engines.bayes import prebuilt
from tests.engines.numba_events import RECORD_COMPILES

CHILD = RECORD_COMPILES + r'''
import hashlib, json
import bayesmixed as bm
fit = bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")).fit(
    "bayes", seed=3, draws=60, tune=60, chains=2, progressbar=False, warn=False)
print("RESULT " + json.dumps({"compiled": compiled,
                              "draws": hashlib.sha256(fit.unconstrained.tobytes()).hexdigest(),
                              "steps": fit.idata.sample_stats["n_steps"].values.sum().item()}))
'''


def cold_fit(cache, **env) -> dict:
    """A sleepstudy fit in a fresh process with an empty numba cache: what it compiled and a digest of its draws."""
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, NUMBA_CACHE_DIR=str(cache), **env))
    assert done.returncode == 0, done.stderr[-3000:]
    line = [row for row in done.stdout.splitlines() if row.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def manifest() -> dict:
    return json.loads(prebuilt.MANIFEST.read_text())


def test_the_shipped_build_matches_the_sampler_sources():
    """An edit of nuts.py, sample_stats.py or cholesky_inplace without a rebuild would leave the folder unused."""
    assert manifest()["sources"] == prebuilt.sources_digest(), (
        "the sampler's sources changed since the prebuilt build: run python -m bayesmixed.engines.bayes.prebuilt")
    assert manifest()["cpu"] == prebuilt.PORTABLE_CPU
    assert {path.suffix for path in prebuilt.FOLDER.iterdir()} == {".json", ".nbi", ".nbc"}


def test_the_index_is_stamped_with_sources_and_compiler():
    """A stamp that ignored the numba version or the sources would load machine code compiled from other ones."""
    stamp = prebuilt.sampler_stamp()
    assert stamp == hashlib.sha256(json.dumps([prebuilt.sources_digest(), prebuilt.compiler_versions()]).encode()).hexdigest()
    assert prebuilt._PrebuiltLocator.from_function(None, "").get_source_stamp() == stamp


@pytest.mark.slow
def test_a_cold_fit_loads_the_sampler_and_draws_as_the_compiled_here_one(tmp_path):
    """Empty numba cache: the sampler comes from the prebuilt folder (not compiled), the kernel is compiled, and
    the draws are bit-identical to those of the sampler compiled for this machine (BAYESMIXED_NO_PREBUILT)."""
    versions = {key: manifest()[key] for key in ("numba", "llvmlite", "python")}
    if versions != prebuilt.compiler_versions():
        pytest.skip(f"the prebuilt sampler is for {versions}, this is {prebuilt.compiler_versions()}: it compiles here")
    shipped = cold_fit(tmp_path / "shipped")
    assert "kernels.marginal_logp_grad" in shipped["compiled"]
    # (conditional.py's γ draws compile nuts.random_normal for themselves)
    sampler = {"nuts.run_iterations", "nuts.transition", "nuts.leapfrog", "nuts.find_reasonable_step",
               "nuts.update_metric", "nuts.welford_update", "nuts.draw_momentum"}
    assert not sampler & set(shipped["compiled"]), shipped["compiled"]
    compiled_here = cold_fit(tmp_path / "compiled", BAYESMIXED_NO_PREBUILT="1")
    assert sampler <= set(compiled_here["compiled"])
    assert shipped["draws"] == compiled_here["draws"] and shipped["steps"] == compiled_here["steps"]
