"""The NUTS sampler shipped compiled, as nutpie ships its Rust sampler: a fresh machine compiles the kernel only.

nuts.run_iterations has one numba signature for every model and route (the log density arrives as a function
pointer of one fixed type), so its machine code does not depend on the data. `python -m
bayesmixed.engines.bayes.prebuilt` compiles it for a generic x86-64 CPU (NUMBA_CPU_NAME=generic: no
instruction beyond the architecture's baseline, so it runs on any x86-64 machine) and writes numba's own cache
files for it into `prebuilt/` beside this module. At run time that folder is read before numba's ordinary cache;
where it does not apply (another numba, llvmlite or Python version, another architecture, a sampler source
edited since the build) numba compiles the sampler as before. The kernels are never shipped: each fit
compiles its route's log density on first use, as nutpie compiles a model's.

The folder is valid for one version of the sampler's sources: `SAMPLER_SOURCES` are stamped into its index,
and tests/engines/test_bayes_prebuilt.py fails when they change without a rebuild.
BAYESMIXED_NO_PREBUILT=1 ignores the folder (to time or check the compiled-here sampler).
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from numba.core.caching import CompileResultCacheImpl, FunctionCache, _CacheLocator

FOLDER = Path(__file__).with_name("prebuilt")
MANIFEST = FOLDER / "manifest.json"
PORTABLE_CPU = "generic"
# what the sampler's machine code is made of: its module, the stat columns it writes, the Cholesky it calls
SAMPLER_SOURCES = ("nuts.py", "sample_stats.py")


def sources_digest() -> str:
    """Fingerprint of the source of everything compiled into nuts.run_iterations."""
    from .factors import cholesky_inplace

    digest = hashlib.sha256()
    for name in SAMPLER_SOURCES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    digest.update(inspect.getsource(cholesky_inplace.py_func).encode())
    return digest.hexdigest()


def compiler_versions() -> dict:
    """The versions the shipped machine code is tied to (numba's cache format, LLVM, Python's bytecode)."""
    import llvmlite
    import numba

    return {"numba": numba.__version__, "llvmlite": llvmlite.__version__, "python": list(sys.version_info[:2])}


def sampler_stamp() -> str:
    """The prebuilt index's stamp: the sampler's sources and the compiler that compiled them."""
    return hashlib.sha256(json.dumps([sources_digest(), compiler_versions()]).encode()).hexdigest()


class _PrebuiltLocator(_CacheLocator):
    """The package's prebuilt folder; its entries are valid while the sampler's sources match their stamp."""

    def ensure_cache_path(self) -> None:
        FOLDER.mkdir(exist_ok=True)

    def get_cache_path(self) -> str:
        return str(FOLDER)

    def get_source_stamp(self) -> str:
        return sampler_stamp()

    def get_disambiguator(self) -> str:
        return "portable"

    @classmethod
    def from_function(cls, py_func, py_file):  # one folder, whatever the function
        return cls()


class _PrebuiltImpl(CompileResultCacheImpl):
    _locator_classes = [_PrebuiltLocator]


class _PrebuiltCache(FunctionCache):
    """numba's function cache in the prebuilt folder, keyed by the portable CPU instead of this machine's."""

    _impl_class = _PrebuiltImpl

    def _index_key(self, sig, codegen):
        sig_key, (triple, _cpu, _features), code_hashes = super()._index_key(sig, codegen)
        return sig_key, (triple, PORTABLE_CPU, ""), code_hashes


class _PrebuiltFirst:
    """The dispatcher's cache: a load tries the prebuilt folder, then numba's own cache, which also takes saves."""

    def __init__(self, prebuilt: _PrebuiltCache, ordinary):
        self._prebuilt, self._ordinary = prebuilt, ordinary

    def load_overload(self, sig, target_context):
        cres = self._prebuilt.load_overload(sig, target_context)
        return cres if cres is not None else self._ordinary.load_overload(sig, target_context)

    def __getattr__(self, name):  # save_overload, flush, cache_path, _cache_path, ...
        return getattr(self._ordinary, name)


def use_prebuilt(dispatcher) -> None:
    """Make the dispatcher load its prebuilt portable code when it applies (nuts.run_iterations)."""
    if os.environ.get("BAYESMIXED_NO_PREBUILT") or isinstance(dispatcher._cache, _PrebuiltFirst):
        return
    dispatcher._cache = _PrebuiltFirst(_PrebuiltCache(dispatcher.py_func), dispatcher._cache)


BUILD = r'''
import bayesmixed as bm
from bayesmixed.engines.bayes import nuts, prebuilt
fit = bm.Model("Reaction ~ Days + (Days | Subject)", bm.datasets.load("sleepstudy")).fit(
    "bayes", seed=1, draws=20, tune=20, chains=1, progressbar=False, warn=False)
(signature, compiled), = nuts.run_iterations.overloads.items()
assert compiled.library.codegen.magic_tuple()[1] == prebuilt.PORTABLE_CPU, compiled.library.codegen.magic_tuple()
cache = prebuilt._PrebuiltCache(nuts.run_iterations.py_func)
cache.save_overload(signature, compiled)
'''


def build() -> None:
    """Compile nuts.run_iterations for the portable CPU in a fresh process and write it to the prebuilt folder."""
    for path in FOLDER.glob("*"):
        path.unlink()
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(os.environ, NUMBA_CPU_NAME=PORTABLE_CPU, NUMBA_CACHE_DIR=scratch, BAYESMIXED_NO_PREBUILT="1")
        env.pop("NUMBA_CPU_FEATURES", None)  # numba then uses no features beyond the generic CPU's
        subprocess.run([sys.executable, "-c", BUILD], env=env, check=True)
    MANIFEST.write_text(json.dumps({"sources": sources_digest(), **compiler_versions(), "cpu": PORTABLE_CPU},
                                   indent=1) + "\n")


if __name__ == "__main__":
    build()
    print(f"wrote {sorted(p.name for p in FOLDER.iterdir())}")
