"""A fitted bambi model's InferenceData seen through bayesmixed's names, so that side_by_side and compare can put
it beside ML, REML and bayesmixed's own posterior.

bambi names a fixed effect as its formula term ("Intercept", "Days"; a factor is one variable with a
"<term>_dim" coordinate: period[2] is our "period2"), a random effect's sd "<column>|<group>_sigma" ("1" for
the intercept) and the residual sd "sigma".  bambi's group-specific effects are independent, so its
correlations are not estimated (shown as "-"; the ICC and R² use zero).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from ..design.types import Design
from ..engines.bayes.prior import sd_name
from ..errors import BayesmixedError
from ..families import get_family


def is_inference_data(value: Any) -> bool:
    """An ArviZ InferenceData (checked by type name: arviz is not imported for frequentist work)."""
    return type(value).__name__ == "InferenceData"


def _bambi_fixed_name(name: str) -> str:
    return "Intercept" if name == "(Intercept)" else name


def _bambi_sd_name(group: str, column: str) -> str:
    return f"{'1' if column == '(Intercept)' else column}|{group}_sigma"


class BambiPosterior:
    """bambi's posterior draws under bayesmixed's parameter names, on the design of the same model.

    draws: {our name: (chains, draws)}; beta_draws (S, p); sigma_draws (S,) or None; covariances(): per term
    (S, k, k) diagonal (bambi's effects are independent); log_likelihood("observation"): (S, n).
    """

    is_bayes = True
    is_prior = False
    dispersion = None  # no family with a dispersion parameter (NB's θ) is mapped from bambi

    def __init__(self, idata: Any, design: Design, label: str) -> None:
        if "posterior" not in idata.groups():
            raise BayesmixedError(f"{label!r}: this InferenceData has no posterior group; pass what bambi's "
                                  "model.fit() returned")
        self.idata, self.design, self.label = idata, design, label
        posterior = idata.posterior
        self.n_chains, self.n_draws = int(posterior.sizes["chain"]), int(posterior.sizes["draw"])

    @cached_property
    def draws(self) -> dict[str, np.ndarray]:
        """{our name: (chains, draws)} for β, every sd and σ (read when first asked: compare needs none)."""
        draws = {name: self._fixed(name) for name in self.design.fixef_names}
        for term in self.design.terms:
            for column in term.columns:
                draws[sd_name(term.group, column)] = self._variable(_bambi_sd_name(term.group, column))
        if get_family(self.design.family).has_residual_sd:
            draws["sigma"] = self._variable("sigma")
        return draws

    def _variable(self, name: str) -> np.ndarray:
        posterior = self.idata.posterior
        if name not in posterior.data_vars:
            raise BayesmixedError(
                f"{self.label!r}: bambi's posterior has no {name!r}, which {self.design.formula!r} needs; its "
                f"variables are {', '.join(map(str, posterior.data_vars))}. Is it the same model?")
        return np.asarray(posterior[name].transpose("chain", "draw", ...).values, dtype=float)

    def _fixed(self, name: str) -> np.ndarray:
        posterior = self.idata.posterior
        bambi_name = _bambi_fixed_name(name)
        if bambi_name in posterior.data_vars and posterior[bambi_name].ndim == 2:
            return self._variable(bambi_name)
        for variable in posterior.data_vars:  # a factor: one variable with a coordinate per level
            dims = [d for d in posterior[variable].dims if d not in ("chain", "draw")]
            if len(dims) == 1 and name.startswith(str(variable)) and dims[0] == f"{variable}_dim":
                levels = [str(level) for level in posterior[variable].coords[dims[0]].values]
                level = name[len(str(variable)):]
                if level in levels:
                    return self._variable(str(variable))[..., levels.index(level)]
        return self._variable(bambi_name)

    @property
    def formula(self) -> str:
        return self.design.formula

    @property
    def beta_draws(self) -> np.ndarray:
        return np.stack([self.draws[n].reshape(-1) for n in self.design.fixef_names], axis=1).reshape(
            self.n_chains * self.n_draws, len(self.design.fixef_names))

    @property
    def sigma_draws(self) -> np.ndarray | None:
        return self.draws["sigma"].reshape(-1) if "sigma" in self.draws else None

    @property
    def posterior(self) -> BambiPosterior:
        return self

    def covariances(self) -> list[np.ndarray]:
        """Per term (S, k, k): diag(sd²), bambi's group-specific effects being independent."""
        out = []
        for term in self.design.terms:
            sd = np.stack([self.draws[sd_name(term.group, c)].reshape(-1) for c in term.columns], axis=1)
            out.append(np.einsum("sk,kl->skl", sd**2, np.eye(len(term.columns))))
        return out

    def log_likelihood(self, unit: str = "observation") -> np.ndarray:
        """(S, n) pointwise log-likelihood that bambi stored (observation level only)."""
        if unit != "observation":
            raise BayesmixedError(f"{self.label!r}: bambi stores observation-level log-likelihoods only; "
                                  "leave-one-group-out (unit='group') needs bayesmixed's marginal route")
        if "log_likelihood" not in self.idata.groups():
            raise BayesmixedError(f"{self.label!r}: bambi's InferenceData has no log_likelihood group; fit with "
                                  "model.fit(idata_kwargs={'log_likelihood': True}) or call "
                                  "model.compute_log_likelihood(idata)")
        group = self.idata.log_likelihood
        name = self.design.response if self.design.response in group.data_vars else next(iter(group.data_vars))
        values = np.asarray(group[name].transpose("chain", "draw", ...).values, dtype=float)
        if values.shape[-1] != self.design.n:
            raise BayesmixedError(f"{self.label!r}: bambi's log-likelihood has {values.shape[-1]} observations, "
                                  f"the other fits {self.design.n}")
        return values.reshape(self.n_chains * self.n_draws, -1)


def adopt_bambi(fits: dict[str, Any], what: str) -> dict[str, Any]:
    """Fits with every InferenceData replaced by a BambiPosterior on the design of the first bayesmixed fit."""
    ours = [fit for fit in fits.values() if not is_inference_data(fit)]
    if len(ours) == len(fits):
        return dict(fits)
    if not ours:
        raise BayesmixedError(f"{what} reads a bambi InferenceData through the design of a bayesmixed fit of the "
                              "same model; add one (e.g. the ML or REML fit)")
    design = ours[0].design
    return {label: BambiPosterior(fit, design, label) if is_inference_data(fit) else fit for label, fit in fits.items()}
