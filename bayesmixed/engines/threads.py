"""One BLAS thread inside the frequentist engines' fits: the rule, stated once for both engines.

Both engines spend their time in the same kind of work: a dense block (the random effects of the
terms after the first, then β) factored and solved thousands of times per fit, from a few rows
(sleepstudy, cbpp) to a few thousand (InstEval: 1,145).  Multi-threaded OpenBLAS spins while it waits
for its threads, so as soon as other processes share the cores each of those calls slows down many
times over, while on idle cores a second thread gains at most ~30% on the largest blocks and nothing
on small ones.  Measured on a 2-core machine under load: InstEval (LMM) 80-290 s with 2 BLAS threads
against 7-12 s with one; small GLMM solves 30-1000x slower with threads; the figures of the
single-rule change are in its commit message.  So the engines run BLAS on one thread whatever the
block's size (the LMM engine used to limit only blocks of d >= 200, the GLMM engine only blocks of
<= 1000: opposite halves of one rule).

The limit goes through one ThreadpoolController, made on first use: finding the loaded BLAS libraries
costs ~1 ms (too much for a sleepstudy-sized fit), applying and lifting a limit then ~20 µs.  The
engines' BLAS (NumPy's and SciPy's OpenBLAS) is loaded before any fit, so the controller sees it.
The limit is process-wide (BLAS has no per-thread setting): a fit running in one thread limits BLAS
for the process's other threads until it ends.
"""

from __future__ import annotations

from typing import Any

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


def engine_threads() -> Any:
    """A context manager inside which BLAS runs on one thread (restored to what it was on exit)."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")
