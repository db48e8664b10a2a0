"""One BLAS thread for the dense block's factorizations.

Multi-threaded OpenBLAS spins while it waits for its threads.  When other processes share the cores,
the engine's sequence of mid-size Cholesky factorizations then slows down many times over (measured on
a loaded 2-core machine: InstEval 80-290 s with 2 BLAS threads, 7-12 s with 1), while on an idle
machine two threads gain only about 30%.  Small blocks do not thread at all, and setting the limit
costs a few milliseconds, so it is applied to large blocks only.
"""

from __future__ import annotations

import contextlib
from typing import ContextManager

from threadpoolctl import threadpool_limits

from .system import PlsSystem

# Dense blocks at least this large are factored by BLAS code that would use several threads.
THREADED_BLOCK = 200


def dense_block_threads(system: PlsSystem) -> ContextManager:
    """A context limiting BLAS to one thread while `system`'s dense block is factored (if large)."""
    if system.d >= THREADED_BLOCK:
        return threadpool_limits(limits=1, user_api="blas")
    return contextlib.nullcontext()
