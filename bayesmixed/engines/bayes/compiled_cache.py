"""Keep numba's on-disk cache of the engine consistent across its source files.

numba validates a cached function against its own file only: after an edit or an upgrade that changes
factors.py or joint.py but not kernels.py, a cached kernel would still run the old helpers linked into it
(and the layout constants it inlines). So the cache is tagged with one fingerprint of every compiled source
file (and the numba version), and its entries for these modules are dropped whenever the fingerprint changes:
the route entry points (kernels.ROUTE_LOG_DENSITIES, joint.joint_logp_grad), the sampler (nuts.*, which
calls the kernel through a function pointer, so it holds no kernel code, but is dropped with the rest) and
conditional.py's draws alike.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

# the compiled modules, and those whose constants (slots of the packed model, stat columns) they inline
COMPILED_MODULES = ("factors", "joint", "kernels", "nuts", "conditional", "layout", "sample_stats")
MARKER = "bayesmixed-bayes-engine.fingerprint"


def source_fingerprint() -> str:
    import numba

    digest = hashlib.sha256(numba.__version__.encode())
    for name in COMPILED_MODULES:
        digest.update((Path(__file__).with_name(f"{name}.py")).read_bytes())
    return digest.hexdigest()


def drop_stale_entries(dispatcher) -> None:
    """Delete this package's cached entries in dispatcher's cache folder unless they match the sources."""
    try:
        folder = Path(dispatcher._cache._cache_path)  # numba's resolved cache location (NUMBA_CACHE_DIR or __pycache__)
    except AttributeError:
        return
    fingerprint = source_fingerprint()
    marker = folder / MARKER
    try:
        if marker.is_file() and marker.read_text() == fingerprint:
            return
        for name in COMPILED_MODULES:
            for path in list(folder.glob(f"{name}.*.nbi")) + list(folder.glob(f"{name}.*.nbc")):
                path.unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(fingerprint)
    except OSError:  # a read-only install: numba itself then falls back to a user-wide cache
        return
