"""Probabilistic PCA as a stochastic pipeline step.

Assumes: inputs x of shape (N, d); the model functions of `ppca_model` (compiled by adjoin).
Guarantees:
  * `produce(x)` is the posterior mean E[z | x]; `sample(x, n)` draws n latents per row from
    the posterior (draw-major rows, reparameterised with standard normal noise from the
    step's seeded generator, so backprop reaches W, mu, s2 and x);
  * `log_likelihood(x, outputs=z)` is log p(z | x) per row; with `outputs=None` (local,
    unsupervised training data) it is the marginal log p(x) per row;
  * `fit()` sets the maximum-likelihood parameters in closed form (Tipping and Bishop 1999)
    from the local data (an eigendecomposition of their covariance).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..errors import PipelineError
from . import ppca_model
from .function import Function

__all__ = ["ProbabilisticPCA"]


class ProbabilisticPCA(Function):
    """Probabilistic PCA with `n_components` latents (see the module docstring).

    Args:
        n_components: the latent dimension k.
        parameters: optional initial {"W": (d, k), "mu": (d,), "log_s2": float}; else `fit`.
        seed: seed of the noise generator used by `sample`.
        backend: the adjoin backend; name: the step's name.

    Attributes:
        n_components: the latent dimension k.
        rng: the noise generator used by `sample`.
    """

    stochastic = True

    def __init__(self, n_components: int, *, parameters: Any = None, seed: int = 0,
                 backend: str = "llvm", name: Optional[str] = None):
        super().__init__(ppca_model.posterior_mean, parameters, backend=backend, name=name)
        self.name = name or "ProbabilisticPCA"
        self.n_components = n_components
        self.rng = np.random.default_rng(seed)
        self._repeat = 1

    @property
    def input_shape(self) -> Optional[tuple]:
        """`(d,)` once the parameters are known, else None."""
        return None if self.params is None else (self.parameters["W"].shape[0],)

    def sample(self, *inputs: Any, n: int = 1) -> Any:
        """n draws of the latents z ~ p(z | x) per row, recorded for `backprop`.

        Args:
            *inputs: the data rows x, shape (N, d).
            n: draws per row.

        Returns:
            An (n * N, k) array, draw-major rows.
        """
        (x,) = inputs
        tiled = np.tile(np.asarray(x), (n, 1))
        eps = self.rng.standard_normal((len(tiled), self.n_components))
        z = self._forward(ppca_model.posterior_sample, (tiled, eps), 1.0)
        self._n_inputs, self._repeat = 1, n
        return z

    def produce(self, *inputs: Any) -> Any:
        """The posterior mean of the latents per row.

        Args:
            *inputs: the data rows x, shape (N, d).

        Returns:
            An (N, k) array.
        """
        self._repeat = 1
        return super().produce(*inputs)

    def backprop(self, output_grad: Any = None) -> Any:
        """Reverse mode through the last recorded call; the draws of one row add up.

        Args:
            output_grad: the loss's gradient with respect to the last call's output.

        Returns:
            The gradient with respect to x, one row per data row.
        """
        x_bar = super().backprop(output_grad)
        if self._repeat > 1 and x_bar is not None:  # the draws of one row add up
            x_bar = x_bar.reshape((self._repeat, -1) + x_bar.shape[1:]).sum(axis=0)
        return x_bar

    def log_likelihood(self, *inputs: Any, outputs: Any = None) -> Any:
        """log p(x) per row, or log p(z | x) of latents `outputs`.

        Args:
            *inputs: the data rows x.
            outputs: latents z, or None for the marginal likelihood of x.

        Returns:
            One value per row.
        """
        self._repeat = 1
        if outputs is None:
            return self._forward(ppca_model.marginal_log_likelihood, inputs, 1.0)
        return self._forward(ppca_model.posterior_log_density, inputs + (outputs,), 1.0,
                             drop_last=True)

    @property
    def has_local_objective(self) -> bool:
        """True when training data is set (fitted in closed form)."""
        return self.training_data is not None

    def fit(self, steps: int = 0, **ignored: Any) -> list:
        """Maximum-likelihood W, mu, s2 from the local training data, in closed form.

        Args:
            steps: ignored (no optimizer steps).
            **ignored: other fit options, ignored.

        Returns:
            An empty history.

        Raises:
            PipelineError: no training data, or `n_components` not in 1..d-1.
        """
        if self.training_data is None:
            raise PipelineError(f"step {self.name!r}: call set_training_data before fit")
        x = np.asarray(self.training_data[0][0], dtype=np.float64)
        n, d = x.shape
        k = self.n_components
        if not 0 < k < d:
            raise PipelineError(f"step {self.name!r}: n_components={k} must lie in 1..{d - 1} "
                                f"for data with {d} features")
        mu = x.mean(axis=0)
        values, vectors = np.linalg.eigh(np.cov(x - mu, rowvar=False, bias=True))
        values, vectors = values[::-1], vectors[:, ::-1]
        s2 = max(float(values[k:].mean()), 1e-12)
        W = vectors[:, :k] * np.sqrt(np.maximum(values[:k] - s2, 0.0))
        self.params = None
        self.parameters = {"W": W, "mu": mu, "log_s2": math.log(s2)}
        return []
