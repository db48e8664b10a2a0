"""LAPACK's dense Cholesky, called without the GIL: the blocked factor's one O(d³) step.

scipy's `linalg.lapack.dpotrf` holds the GIL while it factors, and numpy's `linalg.cholesky`, which releases it,
took 24.7 ms against dpotrf's 14.6 ms on InstEval's 1,146 x 1,146 block (one BLAS thread each; numpy copies
into its own layout first). Calling scipy's cython_lapack dpotrf through ctypes gets both: 15.5 ms, and two
threads factor side by side (20 factorisations: 0.31 s in one thread, 0.17 s in two; numpy's: 0.29 s in two),
which the Bayesian blocked route's chains rely on.
"""

from __future__ import annotations

import ctypes

import numpy as np


def _lapack_routine(name: str, *argtypes) -> ctypes._CFuncPtr:
    """scipy.linalg.cython_lapack's `name` as a ctypes function (CFUNCTYPE: the GIL is released in the call)."""
    from scipy.linalg import cython_lapack

    capsule = cython_lapack.__pyx_capi__[name]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return ctypes.CFUNCTYPE(None, *argtypes)(get_pointer(capsule, get_name(capsule)))


_INT = ctypes.POINTER(ctypes.c_int)
_DOUBLE = ctypes.POINTER(ctypes.c_double)
# dpotrf(uplo, n, a, lda, info); dlaset(uplo, m, n, alpha, beta, a, lda)
_DPOTRF = _lapack_routine("dpotrf", ctypes.c_char_p, _INT, ctypes.c_void_p, _INT, _INT)
_DLASET = _lapack_routine("dlaset", ctypes.c_char_p, _INT, _INT, _DOUBLE, _DOUBLE, ctypes.c_void_p, _INT)


def cholesky_lower(a: np.ndarray) -> tuple[np.ndarray, int]:
    """(L, info): L L' = a from a's lower triangle, in place (a must be a C-contiguous float64 square array that
    the caller gives up; the upper triangle is read as nothing and zeroed). info > 0: the leading minor of that
    order is not positive definite (or not finite), and L is not a factor."""
    if not (a.flags.c_contiguous and a.flags.writeable and a.dtype == np.float64):
        a = np.array(a, dtype=np.float64, order="C")
    n = ctypes.c_int(a.shape[0])
    info = ctypes.c_int(0)
    # Fortran reads the row-major array as its transpose: its upper triangle is our lower one
    _DPOTRF(b"U", ctypes.byref(n), a.ctypes.data, ctypes.byref(n), ctypes.byref(info))
    diagonal = a.diagonal().copy()
    zero = ctypes.c_double(0.0)
    _DLASET(b"L", ctypes.byref(n), ctypes.byref(n), ctypes.byref(zero), ctypes.byref(zero), a.ctypes.data,
            ctypes.byref(n))  # our strict upper triangle (dlaset also sets the diagonal: restored below)
    np.fill_diagonal(a, diagonal)
    if info.value == 0 and not np.isfinite(diagonal).all():  # OpenBLAS's dpotrf lets NaN through
        return a, int(np.flatnonzero(~np.isfinite(diagonal))[0]) + 1
    return a, info.value
