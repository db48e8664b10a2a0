"""engines/lapack.py: LAPACK's Cholesky through ctypes, in place, without the GIL."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from bayesmixed.engines.lapack import cholesky_lower


def spd(n: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


@pytest.mark.parametrize("n", [1, 2, 7, 300])
def test_factor_matches_numpy_and_ignores_the_upper_triangle(n):
    a = spd(n, n)
    garbage = np.tril(a) + np.triu(np.full((n, n), 1e30), 1)  # only the lower triangle may be read
    factor, info = cholesky_lower(garbage)
    assert info == 0 and factor is garbage  # in place
    np.testing.assert_allclose(factor, np.linalg.cholesky(a), rtol=1e-12, atol=1e-12)
    assert np.all(np.triu(factor, 1) == 0.0)


def test_not_positive_definite_reports_the_failing_column():
    a = spd(6, 0)
    a[3, :] = a[:, 3] = 0.0  # column 4 (1-based) has a zero pivot
    _, info = cholesky_lower(a)
    assert info == 4
    _, info = cholesky_lower(np.full((3, 3), np.nan))
    assert info == 1


def test_a_non_contiguous_or_read_only_input_is_copied():
    a = spd(5, 1)
    view = np.asfortranarray(a)
    factor, info = cholesky_lower(view)
    assert info == 0 and factor is not view
    np.testing.assert_allclose(factor, np.linalg.cholesky(a), rtol=1e-12)
    frozen = a.copy()
    frozen.flags.writeable = False
    assert cholesky_lower(frozen)[0] is not frozen


def test_two_threads_factor_side_by_side():
    """The GIL is released in the call: a thread spinning in Python keeps running while another factors."""
    a = spd(900, 2)
    ticks = []
    done = threading.Event()

    def spin():
        while not done.is_set():
            ticks.append(time.perf_counter())

    with threadpool_limits(1, "blas"):
        thread = threading.Thread(target=spin)
        thread.start()
        started = time.perf_counter()
        for _ in range(5):
            cholesky_lower(a.copy())
        elapsed = time.perf_counter() - started
        done.set()
        thread.join()
    during = [t for t in ticks if started <= t <= started + elapsed]
    gaps = np.diff(during)
    # holding the GIL, one factorisation (several ms) would stall the spinner for about that long
    assert len(during) > 100 and gaps.max() < 0.5 * elapsed / 5
