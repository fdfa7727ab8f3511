"""A pipeline step wrapping a scikit-learn estimator whose output is affine in its input.

Assumes: scikit-learn is installed; the estimator is one of PCA, IncrementalPCA,
TruncatedSVD, StandardScaler, MinMaxScaler, MaxAbsScaler, or a linear model with `coef_` and
`intercept_` (LinearRegression, Ridge, Lasso, ElasticNet, BayesianRidge, LogisticRegression,
...).
Guarantees:
  * the fitted estimator is read as `x @ W + b` (W a matrix, or a vector for a single-output
    linear model), whose values equal `transform` (or `predict` / `decision_function` for
    linear models); the map is an adjoin function, so backprop is adjoin's reverse mode;
  * `trainable=False` (the default) freezes W and b: gradients flow to the inputs only;
    `trainable=True` lets end-to-end training refine them from the fitted values;
  * `fit()` calls the estimator's own `fit` on the local training data and reads the map again;
  * any other estimator raises PipelineError naming the supported ones.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ..errors import PipelineError
from .function import Function

__adjoin_compiles__ = True  # its functions are compiled by adjoin like user code
__all__ = ["SklearnTransform"]

_PROJECTIONS = ("PCA", "IncrementalPCA", "TruncatedSVD")
_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler")


def affine(params, x):
    return x @ params["W"] + params["b"]


def affine_rows(params, x):
    return x @ params["w"] + params["b"]


def _affine_map(est: Any) -> dict:
    """W, b with est.transform(x) == x @ W + b (or predict / decision_function)."""
    kind = type(est).__name__
    if kind in _PROJECTIONS:
        W = est.components_.T.astype(np.float64)
        if getattr(est, "whiten", False):
            W = W / np.sqrt(est.explained_variance_)
        mean = getattr(est, "mean_", None)
        b = -(mean @ W) if mean is not None else np.zeros(W.shape[1])
        return {"W": W, "b": b}
    if kind in _SCALERS:
        scale, shift = _scaler(est)
        return {"W": np.diag(scale), "b": shift}
    coef, intercept = np.asarray(est.coef_, dtype=np.float64), est.intercept_
    if coef.ndim == 1 or coef.shape[0] == 1 and np.ndim(intercept) == 0:
        return {"w": coef.reshape(-1), "b": float(np.asarray(intercept).reshape(-1)[0])}
    return {"W": coef.T.copy(), "b": np.asarray(intercept, dtype=np.float64).reshape(-1)}


def _scaler(est: Any) -> Tuple[np.ndarray, np.ndarray]:
    kind = type(est).__name__
    if kind == "StandardScaler":
        scale = 1.0 / est.scale_ if est.scale_ is not None else np.ones(est.n_features_in_)
        mean = est.mean_ if est.mean_ is not None else np.zeros(est.n_features_in_)
        return scale, -mean * scale
    if kind == "MinMaxScaler":
        return est.scale_.copy(), est.min_.copy()
    return 1.0 / est.scale_, np.zeros(est.n_features_in_)


def _supported(est: Any) -> bool:
    kind = type(est).__name__
    return kind in _PROJECTIONS + _SCALERS or (hasattr(est, "coef_") or _is_linear_model(est))


def _is_linear_model(est: Any) -> bool:
    return type(est).__module__.startswith("sklearn.linear_model")


def _fitted(est: Any) -> bool:
    return hasattr(est, "n_features_in_")


class SklearnTransform(Function):
    """A scikit-learn transformer or linear model as a pipeline step (see module docstring).

    Args:
        estimator: fitted, or unfitted and then fitted by `fit()` on local training data.
        trainable: let end-to-end training refine the fitted affine map.
        backend: the adjoin backend the map runs on.
        name: the step's name (default: the estimator's class name).

    Attributes:
        estimator: the scikit-learn estimator.

    Raises:
        PipelineError: the estimator is not affine in its input (not a supported
            projection, scaler or linear model).
    """

    def __init__(self, estimator: Any, *, trainable: bool = False, backend: str = "llvm",
                 name: Optional[str] = None):
        if not _supported(estimator):
            raise PipelineError(
                f"SklearnTransform: {type(estimator).__name__} is not affine in its input; "
                f"supported: {', '.join(_PROJECTIONS + _SCALERS)} and linear models "
                "(sklearn.linear_model). Wrap other estimators' fitted maps with "
                "adjoin.pipeline.Function")
        self.estimator = estimator
        params = _affine_map(estimator) if _fitted(estimator) else None
        fn = affine_rows if params is not None and "w" in params else affine
        super().__init__(fn, params, backend=backend, name=name)
        self.name = name or type(estimator).__name__
        self.frozen = not trainable

    @property
    def input_shape(self) -> Optional[tuple]:
        """`(n_features_in_,)` of a fitted estimator, else None."""
        return (self.estimator.n_features_in_,) if _fitted(self.estimator) else None

    def produce(self, *inputs: Any) -> Any:
        """The estimator's transform (or prediction) of the rows, as adjoin's affine map.

        Args:
            *inputs: the input rows.

        Returns:
            The output rows.

        Raises:
            PipelineError: the estimator is not fitted.
        """
        if self.params is None:
            raise PipelineError(f"step {self.name!r}: the {type(self.estimator).__name__} is not "
                                "fitted; pass a fitted estimator, or call "
                                "set_training_data(x) and fit() (Pipeline.pretrain does)")
        return super().produce(*inputs)

    @property
    def has_local_objective(self) -> bool:
        """False: the estimator is fitted by scikit-learn, not by a likelihood."""
        return False  # fitted by scikit-learn, not by a likelihood

    def fit(self, steps: int = 0, **ignored: Any) -> list:
        """Fit the estimator on the local training data with its own `fit`.

        Args:
            steps: ignored (no optimizer steps).
            **ignored: other fit options, ignored.

        Returns:
            An empty history.

        Raises:
            PipelineError: no training data was set.
        """
        if self.training_data is None:
            raise PipelineError(f"step {self.name!r}: call set_training_data before fit")
        (x,), y = self.training_data
        self.estimator.fit(np.asarray(x), None if y is None else np.asarray(y))
        params = _affine_map(self.estimator)
        self.fn = affine_rows if "w" in params else affine
        self.params = None
        self.parameters = params
        return []
