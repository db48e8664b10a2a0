"""Where each parameter lives in the sampler's unconstrained vector, and the data packed for the kernel.

Unconstrained vector, in order: β (p); log σ (gaussian) or log θ (negative binomial size); per random term t: log sd_t (k_t) then, for a
correlated term with k_t > 1, k_t(k_t−1)/2 free values z that map to the Cholesky factor of its
correlation matrix through tanh (Stan's canonical partial correlations); on the full route, then each
term's standard-normal u_t (levels x k_t, level-major), with γ_j = diag(sd_t) L_t u_j.

Routes: MARGINAL (gaussian, every term on one grouping factor: per-group sufficient statistics, kernels.py),
MARGINAL_JOINT (gaussian, any crossed or nested terms: γ of all terms integrated out together, joint.py),
MARGINAL_BLOCKED (the same beyond JOINT_MAX_Q random effects, on the REML engine's blocked factor: blocked.py), FULL.

The packed model is one tuple of arrays with fixed dtypes and ranks, so the kernel and the sampler
compile once for every model structure and their numba cache is reused across processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .prior import PriorSet, cor_name, sd_name

if TYPE_CHECKING:
    from ...design.types import Design

FAMILY_CODES = {"gaussian": 0, "binomial": 1, "poisson": 2, "negbin": 3}
# The family's one positive scalar parameter, sampled on the log scale in the kernel's sigma slot.
SCALE_NAMES = {"gaussian": "sigma", "negbin": "theta"}
MARGINAL, FULL, MARGINAL_JOINT, MARGINAL_BLOCKED = 0, 1, 2, 3
ROUTE_NAMES = {MARGINAL: "marginal", FULL: "full", MARGINAL_JOINT: "joint marginal", MARGINAL_BLOCKED: "blocked marginal"}
# The joint route's dense Cholesky costs O(q³) a gradient: beyond this many random effects the default is the
# blocked marginal route.
JOINT_MAX_Q = 200

# Header of the int array the kernel reads (one named slot each; HEADER_GROUPS holds the marginal route's number
# of groups or the joint route's number of integrated fixed effects, HEADER_SIZE the unconstrained size), then
# TERM_INTS ints per term, read as term[TERM_K] etc. from the term's slice.
HEADER_INTS, TERM_INTS = 8, 9
(HEADER_ROUTE, HEADER_FAMILY, HEADER_P, HEADER_N_TERMS, HEADER_SIGMA_INDEX, HEADER_GROUPS, HEADER_K,
 HEADER_SIZE) = range(HEADER_INTS)
(TERM_K, TERM_CORRELATED, TERM_N_LEVELS, TERM_SD_INDEX, TERM_CORR_INDEX, TERM_U_INDEX, TERM_COLUMN_OFFSET,
 TERM_PRIOR_ROW, TERM_CENTRED) = range(TERM_INTS)


@dataclass(frozen=True)
class TermLayout:
    group: str
    columns: tuple[str, ...]
    correlated: bool
    n_levels: int
    sd_index: int
    corr_index: int  # -1 without a correlation
    u_index: int  # -1 on the marginal route
    column_offset: int  # first column of this term in the stacked per-row model matrix (and in K)
    centred: bool = False  # full route: γ sampled directly instead of u
    absorbed: tuple[int, ...] = ()  # centred: fixed-effect columns constant within levels, moved into α's mean

    @property
    def k(self) -> int:
        return len(self.columns)

    @property
    def n_corr(self) -> int:
        return self.k * (self.k - 1) // 2 if self.correlated else 0


@dataclass(frozen=True)
class ParameterLayout:
    route: int
    family: str
    p: int
    sigma_index: int  # log σ (gaussian) or log θ (negbin); -1 for families without such a parameter
    terms: tuple[TermLayout, ...]
    size: int

    @property
    def scale_name(self) -> str:
        """The name of the parameter at sigma_index in priors and draws: "sigma" or "theta"."""
        return SCALE_NAMES[self.family]

    @property
    def beta(self) -> slice:
        return slice(0, self.p)


def make_layout(design: Design, route: int, centred: frozenset[str] = frozenset()) -> ParameterLayout:
    """Parameter positions; `centred` names grouping factors whose effects the full route samples centred."""
    index = design.p
    sigma_index = -1
    if design.family in SCALE_NAMES:
        sigma_index, index = index, index + 1
    terms, column_offset = [], 0
    for term in design.terms:
        k = term.n_columns
        correlated = term.has_correlations
        sd_index, index = index, index + k
        corr_index = -1
        if correlated:
            corr_index, index = index, index + k * (k - 1) // 2
        terms.append(TermLayout(term.group, tuple(term.columns), correlated, term.n_levels, sd_index, corr_index, -1, column_offset))
        column_offset += k
    if route == FULL:
        # a column constant within the levels of several centred terms (the intercept) goes to the one with the
        # fewest levels: its effects' mean is the least pinned down by their prior, the β that carries it the most
        absorbed, taken = {}, set()
        for i in sorted(range(len(terms)), key=lambda i: design.terms[i].n_levels):
            if terms[i].group in centred:
                absorbed[i] = level_constant_columns(design, design.terms[i], taken)
                taken.update(absorbed[i])
        with_u = []
        for i, t in enumerate(terms):
            with_u.append(TermLayout(t.group, t.columns, t.correlated, t.n_levels, t.sd_index, t.corr_index, index,
                                     t.column_offset, t.group in centred, absorbed.get(i, ())))
            index += t.n_levels * t.k
        terms = with_u
    return ParameterLayout(route, design.family, design.p, sigma_index, tuple(terms), index)


def level_constant_columns(design: Design, term, taken: set[int]) -> tuple[int, ...]:
    """The fixed-effect columns (not in `taken`) constant within each level of a term with a random intercept:
    sampled centred, that intercept's effects take them into their mean, α_j ~ N(x_j'β, sd²) (hierarchical
    centring with covariates), which removes the ridge between those β and the effects."""
    if term.columns[0] != "(Intercept)" or not np.all(term.matrix[:, 0] == 1.0) or np.any(term.codes < 0):
        return ()
    counts = np.bincount(term.codes, minlength=term.n_levels)
    columns = []
    for c in range(design.p):
        if c in taken:
            continue
        values = design.X[:, c]
        means = np.bincount(term.codes, weights=values, minlength=term.n_levels) / np.maximum(counts, 1)
        if np.abs(values - means[term.codes]).max() <= 1e-12 * max(1.0, float(np.abs(values).max())):
            columns.append(c)
    return tuple(columns)


def absorbed_design(design: Design, layout: ParameterLayout) -> list[np.ndarray | None]:
    """Per term the (levels, p) matrix M_t with μ_t = M_t β for its centred intercepts' means (None where the term
    absorbs nothing). The term holding the intercept takes 1 in its column; where it does, the other terms'
    covariates are centred over their levels and their averages join that term's rows, so that every mean but
    one is free of the overall level (an uncentred covariate there, e.g. a score averaging 20, would act as a
    second intercept and make a ridge with the first): Σ_t μ_t is unchanged, and so is the model."""
    intercept = list(design.fixef_names).index("(Intercept)") if "(Intercept)" in design.fixef_names else -1
    owner = next((i for i, t in enumerate(layout.terms) if intercept in t.absorbed), None)
    matrices: list[np.ndarray | None] = []
    for term, t in zip(design.terms, layout.terms):
        if not t.absorbed:
            matrices.append(None)
            continue
        first_row = np.zeros(t.n_levels, dtype=np.int64)
        first_row[term.codes[::-1]] = np.arange(term.codes.size)[::-1]  # a row of each level
        matrix = np.zeros((t.n_levels, design.p))
        columns = list(t.absorbed)
        matrix[:, columns] = design.X[first_row][:, columns]
        matrices.append(matrix)
    if owner is not None:
        for i, matrix in enumerate(matrices):
            if matrix is None or i == owner:
                continue
            average = matrix.mean(axis=0)
            matrix -= average
            matrices[owner] += average
    return matrices


def level_means(design: Design, layout: ParameterLayout) -> np.ndarray:
    """(γ size, 1, p): row (term offset + level·k) holds that level's row of absorbed_design (zero elsewhere),
    so that μ = row · β; the full route's packed model carries it in ZtX's slot."""
    u_start = layout.terms[0].u_index if layout.terms else 0
    means = np.zeros((max(layout.size - u_start, 0), 1, design.p))
    for t, matrix in zip(layout.terms, absorbed_design(design, layout)):
        if matrix is not None:
            means[t.u_index - u_start + np.arange(t.n_levels) * t.k, 0, :] = matrix
    return means


def absorbed_means(design: Design, layout: ParameterLayout, beta: np.ndarray) -> list[np.ndarray | None]:
    """Per term the (S, levels) means μ = M_t β (absorbed_design) for β draws (S, p); None where none."""
    return [None if matrix is None else beta @ matrix.T for matrix in absorbed_design(design, layout)]


def is_marginal(route: int) -> bool:
    """Whether γ is integrated out while sampling (and drawn afterwards from its exact conditional)."""
    return route in (MARGINAL, MARGINAL_JOINT, MARGINAL_BLOCKED)


def design_weights(design: Design) -> np.ndarray | None:
    """The gaussian prior weights (residual variance σ²/wᵢ), None when all are one or the design has none."""
    weights = getattr(design, "weights", None)
    if weights is None or design.family != "gaussian":
        return None
    weights = np.asarray(weights, dtype=float)
    return None if np.all(weights == 1.0) else weights


def marginal_supported(design: Design) -> bool:
    """The per-group marginal needs an unweighted gaussian model whose terms all share one grouping (same level codes)."""
    if design.family != "gaussian" or not design.terms or design_weights(design) is not None:
        return False
    first = design.terms[0]
    return all(t.n_levels == first.n_levels and np.array_equal(t.codes, first.codes) for t in design.terms[1:])


def prior_table(layout: ParameterLayout, priors: PriorSet, design: Design) -> np.ndarray:
    """(rows, 4) kernel prior rows: p fixed effects, then σ or θ, then per term k sds and one LKJ row."""
    rows = [priors[name].kernel_row() for name in design.fixef_names]
    rows.append(priors[layout.scale_name].kernel_row() if layout.sigma_index >= 0 else (0.0, 0.0, 1.0, 0.0))
    for t in layout.terms:
        rows.extend(priors[sd_name(t.group, c)].kernel_row() for c in t.columns)
        rows.append(priors[cor_name(t.group)].kernel_row() if t.correlated else (5.0, 1.0, 0.0, 0.0))
    return np.ascontiguousarray(rows, dtype=np.float64)


def pack_model(design: Design, layout: ParameterLayout, priors: PriorSet) -> tuple:
    """The kernel's argument tuple (ints, prior rows, X, y, trials, offset, codes, zmat, ZtZ, ZtX, Zty, XtX, vec)."""
    n, p = design.n, design.p
    n_terms = len(layout.terms)
    K = sum(t.k for t in layout.terms)
    ints = np.zeros(HEADER_INTS + TERM_INTS * n_terms, dtype=np.int64)
    prior_row = p + 1
    for i, t in enumerate(layout.terms):
        ints[HEADER_INTS + TERM_INTS * i : HEADER_INTS + TERM_INTS * (i + 1)] = (
            t.k, int(t.correlated), t.n_levels, t.sd_index, t.corr_index, t.u_index, t.column_offset, prior_row,
            int(t.centred))
        prior_row += t.k + 1
    # Fresh writeable C-contiguous copies: a read-only array would be a different numba type and
    # compile the kernel and the sampler a second time.
    X = writable(design.X)
    y = writable(design.y)
    offset = writable(design.offset if design.offset is not None else np.zeros(n))
    weights = design_weights(design)
    # gaussian: the prior weights ride in the trials slot (the full route's residual precision wᵢ/σ²)
    trials = writable(design.trials if design.trials is not None else weights if weights is not None else np.ones(n))
    zmat = writable(np.hstack([t.matrix for t in design.terms]) if n_terms else np.zeros((n, 0)))
    codes = writable(np.column_stack([t.codes for t in design.terms]) if n_terms else np.zeros((n, 0)), np.int64)
    n_groups = layout.terms[0].n_levels if (layout.route == MARGINAL and n_terms) else 0
    ints[:HEADER_INTS] = (layout.route, FAMILY_CODES[design.family], p, n_terms, layout.sigma_index, n_groups, K, layout.size)
    # A route passes empty arrays of the same ranks for what it does not read: the per-row data (X ... codes) on
    # the marginal routes, the statistics (ZtZ ... vec) on the others.
    no_rows = np.zeros((0, p)), np.zeros(0), np.zeros(0), np.zeros(0), np.zeros((0, K)), np.zeros((0, n_terms), dtype=np.int64)
    no_statistics = np.zeros((0, K, K)), np.zeros((0, K, p)), np.zeros((0, K)), np.zeros((p, p)), np.zeros(p + 2)
    if layout.route == MARGINAL_BLOCKED:  # blocked.py reads the design itself
        (X, y, trials, offset, zmat, codes), (ZtZ, ZtX, Zty, XtX, vec) = no_rows, no_statistics
    elif is_marginal(layout.route):
        if layout.route == MARGINAL:
            ZtZ, ZtX, Zty, XtX, vec = group_statistics(X, y - offset, zmat, codes[:, 0], n_groups)
        else:
            ZtZ, ZtX, Zty, XtX, vec = joint_statistics(X, y - offset, design.Z, weights)
        X, y, trials, offset, zmat, codes = no_rows
    else:  # the full route; its ZtX slot carries the centred intercepts' mean rows (level_means)
        ZtZ, _, Zty, XtX, vec = no_statistics
        X[:, [c for t in layout.terms for c in t.absorbed]] = 0.0  # they enter η through the effects' means
        ZtX = writable(level_means(design, layout))
    return (ints, prior_table(layout, priors, design), X, y, trials, offset, codes, zmat, ZtZ, ZtX, Zty, XtX, vec)


def writable(values, dtype=np.float64) -> np.ndarray:
    return np.array(values, dtype=dtype, order="C", copy=True)


def group_statistics(X: np.ndarray, y: np.ndarray, zmat: np.ndarray, codes: np.ndarray, n_groups: int):
    """Per-group Z_i'Z_i (G,K,K), Z_i'X_i (G,K,p), Z_i'y_i (G,K); X'X (p,p); vec = [X'y (p), y'y, n, n_1..n_G]."""
    G, K, p = n_groups, zmat.shape[1], X.shape[1]
    ZtZ = np.zeros((G, K, K))
    ZtX = np.zeros((G, K, p))
    Zty = np.zeros((G, K))
    np.add.at(ZtZ, codes, zmat[:, :, None] * zmat[:, None, :])  # (n, K, K) outer products summed by group
    np.add.at(ZtX, codes, zmat[:, :, None] * X[:, None, :])  # (n, K, p)
    np.add.at(Zty, codes, zmat * y[:, None])  # (n, K)
    counts = np.bincount(codes, minlength=G).astype(np.float64)
    vec = np.concatenate([X.T @ y, [y @ y, float(len(y))], counts])
    return ZtZ, ZtX, Zty, np.ascontiguousarray(X.T @ X), vec


@dataclass(frozen=True)
class IntegratedBeta:
    """The joint route with β integrated out under its Normal(mean, sd) priors: the sampler's layout (no β) and
    packed model; β is drawn afterwards from its exact conditional (fit.draw_integrated_beta)."""

    layout: ParameterLayout
    model: tuple
    mean: np.ndarray  # (p,) prior means m
    sd: np.ndarray  # (p,) prior sds s


def integrated_beta_model(design: Design, layout: ParameterLayout, priors: PriorSet) -> IntegratedBeta | None:
    """y − Xm ~ N(0, σ²W⁻¹ + Z*Λ*Λ*'Z*'), Z* = [Z, X diag(s)], Λ* = blockdiag(Λ, I); None unless every β prior is Normal."""
    rows = [priors[name] for name in design.fixef_names]
    if layout.route not in (MARGINAL_JOINT, MARGINAL_BLOCKED) or not rows or any(r.family != "Normal" for r in rows):
        return None
    import scipy.sparse as sp

    mean = np.array([r.param("mu") for r in rows])
    sd = np.array([r.param("sigma") for r in rows])
    p = design.p
    shifted = [TermLayout(t.group, t.columns, t.correlated, t.n_levels, t.sd_index - p,
                          t.corr_index - p if t.corr_index >= 0 else -1, -1, t.column_offset) for t in layout.terms]
    reduced = ParameterLayout(layout.route, design.family, 0, layout.sigma_index - p, tuple(shifted), layout.size - p)
    full = pack_model(design, layout, priors)
    ints = full[0].copy()
    ints[HEADER_P], ints[HEADER_SIGMA_INDEX], ints[HEADER_GROUPS], ints[HEADER_SIZE] = 0, reduced.sigma_index, p, reduced.size
    for i, t in enumerate(shifted):
        base = HEADER_INTS + TERM_INTS * i
        ints[base + TERM_SD_INDEX], ints[base + TERM_CORR_INDEX] = t.sd_index, t.corr_index
        ints[base + TERM_PRIOR_ROW] -= p
    if layout.route == MARGINAL_BLOCKED:
        return IntegratedBeta(reduced, (ints, writable(full[1][p:]), *full[2:]), mean, sd)
    X = np.asarray(design.X, dtype=float)
    y = np.asarray(design.y, dtype=float) - design.offset - X @ mean
    ZtZ, ZtX, Zty, _, vec = joint_statistics(np.zeros((design.n, 0)), y, sp.hstack([design.Z, sp.csc_matrix(X * sd)]).tocsc(),
                                             design_weights(design))
    model = (ints, writable(full[1][p:]), *full[2:8], ZtZ, ZtX, Zty, np.zeros((0, 0)), vec)
    return IntegratedBeta(reduced, model, mean, sd)


def joint_statistics(X: np.ndarray, y: np.ndarray, Z, weights: np.ndarray | None):
    """Z'WZ (1,q,q), Z'WX (1,q,p), Z'Wy (1,q); X'WX (p,p); vec = [X'Wy (p), y'Wy, n, Σ log wᵢ] (W = diag(weights))."""
    root = np.sqrt(weights) if weights is not None else np.ones(len(y))
    Xw, yw = X * root[:, None], y * root
    Zw = Z.multiply(root[:, None]).tocsc()  # (n, q) sparse, rows scaled by √wᵢ
    ZtZ = Zw.T @ Zw
    ZtZ = ZtZ.toarray() if hasattr(ZtZ, "toarray") else np.asarray(ZtZ)
    vec = np.concatenate([Xw.T @ yw, [yw @ yw, float(len(y)), float(np.log(weights).sum()) if weights is not None else 0.0]])
    return (writable(ZtZ[None]), writable(np.asarray(Zw.T @ Xw)[None]), writable(np.asarray(Zw.T @ yw)[None]),
            writable(Xw.T @ Xw), vec)


def constrain_draws(layout: ParameterLayout, draws: np.ndarray) -> dict[str, np.ndarray]:
    """Unconstrained draws (..., size) -> β (..., p), sigma or theta (...), per term sd (..., k) and Cholesky of correlation (..., k, k)."""
    out: dict[str, np.ndarray] = {"beta": draws[..., layout.beta]}
    if layout.sigma_index >= 0:
        out[layout.scale_name] = np.exp(draws[..., layout.sigma_index])
    for i, t in enumerate(layout.terms):
        out[f"sd{i}"] = np.exp(draws[..., t.sd_index : t.sd_index + t.k])
        out[f"chol{i}"] = correlation_cholesky(draws[..., t.corr_index : t.corr_index + t.n_corr], t.k) if t.correlated else (
            np.broadcast_to(np.eye(t.k), draws.shape[:-1] + (t.k, t.k)))
        if t.u_index >= 0:
            out[f"u{i}"] = draws[..., t.u_index : t.u_index + t.n_levels * t.k].reshape(draws.shape[:-1] + (t.n_levels, t.k))
    return out


def correlation_cholesky(z: np.ndarray, k: int) -> np.ndarray:
    """tanh-partial-correlation map z (..., k(k−1)/2) -> lower Cholesky factor L (..., k, k) with unit-norm rows."""
    y = np.tanh(z)
    L = np.zeros(z.shape[:-1] + (k, k))
    L[..., 0, 0] = 1.0
    position = 0
    for i in range(1, k):
        sum_sq = np.zeros(z.shape[:-1])
        for j in range(i):
            L[..., i, j] = y[..., position] * np.sqrt(1.0 - sum_sq)
            sum_sq = sum_sq + L[..., i, j] ** 2
            position += 1
        L[..., i, i] = np.sqrt(np.maximum(1.0 - sum_sq, 0.0))
    return L


def partial_correlations(L: np.ndarray) -> np.ndarray:
    """Inverse of correlation_cholesky, vectorised: L (..., k, k) -> z (..., k(k−1)/2)."""
    k = L.shape[-1]
    z = []
    for i in range(1, k):
        used = np.zeros(L.shape[:-2])
        for j in range(i):
            ratio = L[..., i, j] / np.sqrt(np.maximum(1.0 - used, 1e-300))
            z.append(np.arctanh(np.clip(ratio, -1 + 1e-15, 1 - 1e-15)))
            used = used + L[..., i, j] ** 2
    return np.stack(z, axis=-1)
