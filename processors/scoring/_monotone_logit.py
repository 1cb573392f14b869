"""Logistic regression with sign constraints on chosen coefficients (a monotone model).

Groundedness features have a known direction: more similarity or lexical support can only make a
sentence *more* supported, more novel numbers / entities or a negation mismatch only *less*. A
plain logistic regression can learn the opposite sign from a data-set artifact (in HaluEval the
right answers are short entity names, so they are LESS similar to the context than the
hallucinated full sentences); constraining the signs keeps the model sane on other data.

Holds the standardization (``mean_``, ``scale_``), the coefficients ``coef_`` and ``intercept_``.
Fitting needs SciPy (a scikit-learn dependency); prediction is plain NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class MonotoneLogisticRegression:
    """Binary logistic regression on standardized features where ``signs[j]`` = +1 forces
    ``coef_[j] >= 0``, -1 forces ``coef_[j] <= 0`` and 0 leaves it free; L2 penalty ``1 / C``."""

    def __init__(self, signs: list[int], C: float = 0.5, max_iter: int = 2000) -> None:
        self.signs = list(signs)
        self.C = C
        self.max_iter = max_iter
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.coef_: np.ndarray | None = None
        self.intercept_: float = 0.0

    def fit(
        self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> MonotoneLogisticRegression:
        """Fit by L-BFGS-B (bounded) on the weighted log-loss plus the L2 penalty."""
        from scipy.optimize import minimize

        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.shape[1] != len(self.signs):
            raise ValueError(f"{X.shape[1]} features but {len(self.signs)} signs")
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        w = w / w.sum()
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        self.scale_ = np.where(scale > 1e-12, scale, 1.0)
        Z = (X - self.mean_) / self.scale_
        lam = 1.0 / (self.C * len(y))

        def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
            coef, b = theta[:-1], theta[-1]
            z = Z @ coef + b
            p = 1.0 / (1.0 + np.exp(-z))
            # log(1 + e^z) - y z, computed stably
            ll = np.sum(w * (np.logaddexp(0.0, z) - y * z)) + 0.5 * lam * float(coef @ coef)
            g = w * (p - y)
            grad = np.concatenate([Z.T @ g + lam * coef, [g.sum()]])
            return float(ll), grad

        bounds: list[tuple[float | None, float | None]] = [
            (0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in self.signs
        ]
        bounds.append((None, None))
        res = minimize(
            loss,
            np.zeros(Z.shape[1] + 1),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": self.max_iter},
        )
        self.coef_ = res.x[:-1]
        self.intercept_ = float(res.x[-1])
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        if self.coef_ is None or self.mean_ is None or self.scale_ is None:
            raise RuntimeError("model is not fitted")
        return ((np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, 2) class probabilities, like scikit-learn."""
        p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"signs": self.signs, "C": self.C, "max_iter": self.max_iter}
