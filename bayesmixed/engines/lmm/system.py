"""The LMM's cross-products of the penalised least-squares system, computed once per design.

The LMM's blocked system (engines/blocked_factor.py) has C = [Z_2 ... Z_m, X, y - offset]: its dense
block is d x d, d = (random effects of the other terms) + p + 1, and its Cholesky factor's last diagonal
element is r(θ).  Nothing of size n x q or n x n is ever formed.

For a level j of the first term, with G = Z₁'C and M_j = Λ₁ (Λ₁'(Z₁'Z₁)_j Λ₁ + I)⁻¹ Λ₁', eliminating
the first term leaves C'C - Σ_j G_j' M_j G_j.  That sum is linear in the entries of the M_j, so it
is precomputed as a sparse map (`schur_map`) from vec(M) to the lower triangle of the d x d block.

Only the last column of C depends on the response, so `PlsSystem.with_response` refills just the
entries it touches (the parametric bootstrap's refits share X and Z and differ only in y).

Prior weights wᵢ (residual variance σ²/wᵢ) scale the rows of Z, X and y - offset by √wᵢ, as lme4 does,
so the cross-products above are the weighted C'WC of the shared factor.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ...design.types import Design
from ...errors import BayesmixedError
from ..blocked_factor import BlockedSystem, column_products, lambda_pattern, level_crossprods

# Above this many products G_ja * G_jb the sparse Schur map would cost more memory than it saves
# time; the dense route (one BLAS product per evaluation) is used instead.
SCHUR_MAP_MAX_ENTRIES = 30_000_000
# A map with at most this many entries in all is kept dense: a BLAS mat-vec beats sparse overhead.
DENSE_MAP_MAX_ENTRIES = 200_000
# Pairs of nonzeros generated at once while building the Schur map (bounds its temporary memory).
PAIR_CHUNK = 1_000_000
# The dense block holds d x d doubles; beyond this d it would not fit in a few GB of memory.
MAX_DENSE_BLOCK = 15_000


@dataclass(frozen=True, eq=False)
class ResponseSlots:
    """Where the response enters a PlsSystem: ỹ = y - offset - Xβ_shift with β_shift = X⁺(y - offset).

    root_weights: √wᵢ for the prior weights (None: unit weights); X and the transposes here are
        already row-scaled by them, the response is scaled in `with_response`.
    shift_operator: X⁺ (p x n), with lstsq's singular-value cutoff.
    first_transpose: Z₁' (q₁ x n): the last column of G is Z₁'ỹ, at `rhs_positions` in G's data
        (every row of G holds one, so these places do not depend on y).
    fixed_transpose: C_f' ((d-1) x n) for C_f = [Z_2 ... Z_m, X]: C'C's last row is [C_f'ỹ, ỹ'ỹ].
    map_positions: the Schur map's entries pairing y with a column of G (flat positions in the
        sparse map's data, or in the dense map); each is map_factor · G[map_left] · G[map_right],
        indices into G's data.
    """

    X: np.ndarray
    offset: np.ndarray
    root_weights: np.ndarray | None
    shift_operator: np.ndarray
    first_transpose: sp.csr_matrix
    fixed_transpose: sp.csr_matrix
    rhs_positions: np.ndarray
    map_positions: np.ndarray
    map_left: np.ndarray
    map_right: np.ndarray
    map_factor: np.ndarray


@dataclass(frozen=True, eq=False)
class PlsSystem(BlockedSystem):
    """Everything θ-independent about the penalised least-squares problem of one design: the blocked
    system (engines/blocked_factor.py) of C = [Z_2 ... Z_m, X, y - offset - Xβ_shift], and what a new
    response needs.

    beta_shift: the least-squares β of y - offset on X; the system is built for the response
        y - offset - Xβ_shift, so its β̂ is β̂ - β_shift.
    response_slots: how to refill the y-dependent entries for another response (`with_response`).
    """

    n: int
    beta_shift: np.ndarray
    response_slots: ResponseSlots

    def with_response(self, y: np.ndarray) -> PlsSystem:
        """The system of the same X, Z and offset for response y: only Z₁'ỹ, C_f'ỹ, ỹ'ỹ and the Schur
        map's y entries are recomputed (O(n + nnz(Z)) instead of a rebuild)."""
        y = np.asarray(y, dtype=float)
        if y.shape != (self.n,):
            raise BayesmixedError(f"the response must hold {self.n} values, one per row; got shape {y.shape}")
        slots = self.response_slots
        centred = y - slots.offset
        if slots.root_weights is not None:
            centred = centred * slots.root_weights
        beta_shift = slots.shift_operator @ centred
        shifted = centred - slots.X @ beta_shift
        first_rhs = self.first_rhs.copy()
        first_rhs.data[slots.rhs_positions] = slots.first_transpose @ shifted
        schur_map, first_rhs_dense = self.schur_map, self.first_rhs_dense
        if schur_map is not None:
            schur_map = schur_map.copy()
            entries = schur_map.data if sp.issparse(schur_map) else schur_map.reshape(-1)
            rhs = first_rhs.data
            entries[slots.map_positions] = slots.map_factor * rhs[slots.map_left] * rhs[slots.map_right]
        else:
            first_rhs_dense = first_rhs_dense.copy()
            first_rhs_dense[:, :, -1] = first_rhs.data[slots.rhs_positions].reshape(first_rhs_dense.shape[:2])
        wtw = self.wtw.copy()
        wtw[-1, :-1] = slots.fixed_transpose @ shifted
        wtw[-1, -1] = shifted @ shifted
        return replace(self, first_rhs=first_rhs, schur_map=schur_map, first_rhs_dense=first_rhs_dense, wtw=wtw,
                       beta_shift=beta_shift)


def build_system(design: Design) -> PlsSystem:
    """Precompute the θ-independent cross-products of `design` (needs at least one random term)."""
    if not design.terms:
        raise BayesmixedError("a linear mixed model needs at least one random-effects term")
    first, rest = design.terms[0], design.terms[1:]
    d = sum(t.size for t in rest) + design.p + 1
    if d > MAX_DENSE_BLOCK:
        raise BayesmixedError(
            f"the random terms after the first ({', '.join(t.label for t in rest)}) have {d - design.p - 1:,} "
            f"random effects; this engine factors them as one dense {d:,} x {d:,} block "
            f"({d * d * 8 / 2**30:.1f} GB), too large. Fit a smaller model (fewer levels in the crossed "
            "factors), or use lme4, whose sparse Cholesky handles this layout"
        )
    root_weights = None if design.weights is None else np.sqrt(design.weights)
    X = design.X if root_weights is None else design.X * root_weights[:, None]
    first_Z, first_matrix = first.Z, first.matrix
    rest_Z = [t.Z for t in rest]
    if root_weights is not None:
        rows_scaled = sp.diags(root_weights)
        first_Z, first_matrix = (rows_scaled @ first_Z).tocsc(), first_matrix * root_weights[:, None]
        rest_Z = [(rows_scaled @ Z).tocsc() for Z in rest_Z]
    # Solve for y - Xβ_ols instead of y: the same θ-problem (β absorbs any shift within the span of
    # X), but r² is no longer the small difference of two large sums, which costs digits.
    shift_operator = np.linalg.pinv(X, rcond=np.finfo(float).eps * max(X.shape))
    fixed_columns = sp.hstack(rest_Z + [sp.csc_matrix(X)], format="csc")  # C_f
    k = first.n_columns
    # The response's column of G = Z₁'C gets an entry in every row, even where Z₁'ỹ could vanish, so
    # that its places in G and in the Schur map are the same for every y; with_response fills them.
    first_rhs = sp.hstack([first_Z.T @ fixed_columns, sp.csr_matrix(np.ones((first.size, 1)))], format="csr")
    first_rhs.sort_indices()
    schur_map, first_rhs_dense = None, None
    no_entries = np.array([], dtype=np.int64)  # the dense route keeps G's y column and has no map to refill
    map_positions, map_left, map_right, map_factor = no_entries, no_entries, no_entries, np.array([])
    if _pair_count(first_rhs, k) <= SCHUR_MAP_MAX_ENTRIES:
        schur_map, (map_positions, map_left, map_right, map_factor) = _schur_map(first_rhs, k, d)
        if np.prod(schur_map.shape) <= DENSE_MAP_MAX_ENTRIES:
            map_positions = _dense_positions(schur_map, map_positions)
            schur_map = schur_map.toarray()
    else:
        first_rhs_dense = first_rhs.toarray().reshape(first.n_levels, k, d)
    wtw = np.zeros((d, d))
    wtw[:-1, :-1] = np.tril((fixed_columns.T @ fixed_columns).toarray())
    slots = ResponseSlots(
        X=X,
        offset=design.offset,
        root_weights=root_weights,
        shift_operator=shift_operator,
        first_transpose=first_Z.T.tocsr(),
        fixed_transpose=fixed_columns.T.tocsr(),
        rhs_positions=first_rhs.indptr[1:] - 1,  # y's column is the last one of every row
        map_positions=map_positions,
        map_left=map_left,
        map_right=map_right,
        map_factor=map_factor,
    )
    template = PlsSystem(
        pattern=lambda_pattern(design),
        first_crossprod=level_crossprods(first.codes, column_products(first_matrix), first.n_levels, k),
        first_rhs=first_rhs,
        schur_map=schur_map,
        first_rhs_dense=first_rhs_dense,
        wtw=wtw,
        p=design.p,
        log_weights=0.0 if root_weights is None else float(np.log(design.weights).sum()),
        n=design.n,
        beta_shift=np.zeros(design.p),
        response_slots=slots,
    )
    return template.with_response(design.y)


def _pair_count(G: sp.csr_matrix, k: int) -> int:
    """Number of pairs of nonzeros of G within one level, each unordered pair once (the map's size)."""
    per_level = np.diff(G.indptr[::k]).astype(np.int64)
    return int(per_level @ (per_level + 1) // 2)


def _schur_map(G: sp.csr_matrix, k: int, d: int) -> tuple[sp.csc_matrix, tuple[np.ndarray, ...]]:
    """Sparse map vec(M) -> lower triangle of Σ_j G_j' M_j G_j, flattened row-major (d*d), and the
    entries that pair G's last (response) column with any column: (positions in the map's data,
    left and right indices into G's data, factor), so that entry = factor · G[left] · G[right].

    Within a level, nonzeros are sorted by column so that every pair (e2 before e1) has
    col(e2) <= col(e1): one triangle, no filtering.  Two different rows c1 != c2 hitting the same
    column a contribute M[c1,c2] + M[c2,c1] = 2 M[c1,c2] (M is symmetric): their pair counts twice.
    Levels are paired in chunks of about PAIR_CHUNK pairs, which bounds the temporary memory.
    """
    entry_row = np.repeat(np.arange(G.shape[0]), np.diff(G.indptr))
    entry_level = entry_row // k
    order = np.lexsort((entry_row, G.indices, entry_level))  # by level, then column, then row
    row, col, value = entry_row[order] % k, G.indices[order].astype(np.int64), G.data[order]
    level = entry_level[order]
    level_start = G.indptr[::k].astype(np.int64)
    per_level = np.diff(level_start)
    n_columns = per_level.size * k * k
    chunk_ends = np.searchsorted(np.cumsum(per_level * (per_level + 1) // 2), np.arange(1, 1 + _pair_count(G, k) // PAIR_CHUNK) * PAIR_CHUNK)
    bounds = np.unique(np.concatenate([[0], chunk_ends, [per_level.size]]))
    values, rows, counts = [], [], np.zeros(n_columns, dtype=np.int64)
    response: list[list[np.ndarray]] = [[], [], [], []]
    n_entries = 0
    for first_level, last_level in zip(bounds[:-1], bounds[1:]):
        entries = np.arange(level_start[first_level], level_start[last_level])
        # Pair each nonzero e1 (position i within its level) with the nonzeros at positions 0..i.
        partners = entries - level_start[level[entries]] + 1
        first = np.repeat(entries, partners)
        second = level_start[level[first]] + (np.arange(first.size) - np.repeat(np.cumsum(partners) - partners, partners))
        factor = np.where((col[first] == col[second]) & (first != second), 2.0, 1.0)
        column = level[first] * k * k + row[first] * k + row[second]
        if k > 1:  # columns are level-major, so sorting within the chunk orders them globally
            by_column = np.argsort(column, kind="stable")
            column, first, second, factor = column[by_column], first[by_column], second[by_column], factor[by_column]
        values.append(factor * value[first] * value[second])
        rows.append(col[first] * d + col[second])
        counts += np.bincount(column, minlength=n_columns)
        with_response = np.flatnonzero(col[first] == d - 1)  # col(e2) <= col(e1): y can only be e1's
        for parts, part in zip(response, (n_entries + with_response, order[first[with_response]],
                                          order[second[with_response]], factor[with_response])):
            parts.append(part)
        n_entries += first.size
    indptr = np.concatenate([[0], np.cumsum(counts)])
    schur_map = sp.csc_matrix((np.concatenate(values), np.concatenate(rows), indptr), shape=(d * d, n_columns))
    return schur_map, tuple(np.concatenate(parts) for parts in response)


def _dense_positions(schur_map: sp.csc_matrix, positions: np.ndarray) -> np.ndarray:
    """Flat positions in schur_map.toarray() of the given entries of its data (no two share a place)."""
    entry_column = np.repeat(np.arange(schur_map.shape[1]), np.diff(schur_map.indptr))
    return schur_map.indices[positions].astype(np.int64) * schur_map.shape[1] + entry_column[positions]
