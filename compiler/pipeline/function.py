"""A pipeline step from plain Python functions that adjoin compiles.

Assumes: `fn(params, *inputs)` and the optional `log_likelihood(params, *inputs, outputs)`,
`loss(...)` (its negation) and `log_prior(params)` are functions adjoin accepts; `params` is a
structured value of floats and float arrays.
Guarantees:
  * every forward call runs through `adjoin.vjp` on the chosen backend (or the plain compiled
    call when `recording` is off), so `backprop` is adjoin's reverse mode: the parameters'
    gradient in their own structure, and the inputs' gradients;
  * on the torch backend inputs and parameters are tensors (so the step runs on their
    device); on python and llvm they are float64 NumPy arrays;
  * a function that adjoin cannot compile or differentiate raises adjoin's CompileError at
    the first call, which a pipeline makes before training (`Pipeline.check`).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional

from ..errors import PipelineError
from .parameters import Parameters
from .primitive import Primitive

__all__ = ["Function"]


class Function(Primitive):
    """`fn(params, *inputs) -> output` as a pipeline step whose parameters are `params`.

    Args:
        fn: a plain Python function adjoin can compile.
        parameters: the initial parameters (dict, dataclass, tuple ... of floats and arrays).
        log_likelihood: `ll(params, *inputs, outputs)`, one value per example (or a total),
            used when the step is last in a pipeline or has local training data.
        loss: instead of `log_likelihood`, a loss to minimise (its negation is the
            log-likelihood).
        log_prior: `log_prior(params) -> float`, added to the training objective.
        backend: the adjoin backend ("python", "llvm", "torch").
        name: the step's name in messages (default: `fn.__name__`).

    Attributes:
        fn: the step's function (`backend`, `parameters` and `gradients` are properties,
            below).

    Raises:
        PipelineError: both `log_likelihood` and `loss` are given.
        adjoin.CompileError: a function cannot be compiled or differentiated (at the
            first call, which `Pipeline.check` makes before training).

    Example:
        >>> from adjoin import pipeline as pl
        >>> def line(p, x):
        ...     return x @ p["w"] + p["b"]
        >>> step = pl.Function(line, {"w": np.array([2.0]), "b": 1.0}, backend="python")
        >>> x = np.array([[0.0], [1.0]])
        >>> step.produce(x)
        array([1., 3.])
        >>> step.backprop(np.array([1.0, 1.0]))
        array([[2.],
               [2.]])
        >>> step.gradients["w"], float(step.gradients["b"])
        (array([1.]), 2.0)
    """

    def __init__(self, fn: Callable, parameters: Any, *, log_likelihood: Optional[Callable] = None,
                 loss: Optional[Callable] = None, log_prior: Optional[Callable] = None,
                 backend: str = "llvm", name: Optional[str] = None):
        super().__init__(name, default=getattr(fn, "__name__", "function"))
        if log_likelihood is not None and loss is not None:
            raise PipelineError(f"step {self.name!r}: give log_likelihood= or loss=, not both")
        self.fn = fn
        self.backend = backend
        self.score, self.sign = (loss, -1.0) if loss is not None else (log_likelihood, 1.0)
        self.prior = log_prior
        self.params = Parameters(parameters, self) if parameters is not None \
            else None
        self._pullback: Optional[Callable] = None
        self._scale = 1.0

    @property
    def backend(self) -> str:
        """The adjoin backend the step runs on; settable (the next call compiles for it)."""
        return self._backend

    @backend.setter
    def backend(self, name: str) -> None:
        self._backend = name
        self.tensor_io = name == "torch"

    # -- parameters

    def tensors(self):
        """The parameters' leaf tensors (empty when there are none yet)."""
        return [] if self.params is None else self.params.tensors

    @property
    def parameters(self) -> Any:
        """The current parameters in their own structure; None before any are set."""
        return None if self.params is None else self.params.value()

    @parameters.setter
    def parameters(self, tree: Any) -> None:
        if self.params is None:
            self.params = Parameters(tree, self)
        else:
            self.params.assign(tree)

    @property
    def gradients(self) -> Any:
        """The accumulated gradients, in the parameters' structure."""
        return None if self.params is None else self.params.gradients()

    def _values(self) -> Any:
        if self.params is None:
            raise PipelineError(f"step {self.name!r} has no parameters yet (fit it first)")
        return self.params.value(as_tensors=self.tensor_io)

    # -- forward and backward

    def produce(self, *inputs: Any) -> Any:
        """`fn(params, *inputs)`, recorded for `backprop` unless `recording` is off.

        Args:
            *inputs: the step's inputs, rows = examples.

        Returns:
            The step's output.

        Raises:
            PipelineError: the step has no parameters yet.
        """
        return self._forward(self.fn, inputs, 1.0)

    def log_likelihood(self, *inputs: Any, outputs: Any) -> Any:
        """The step's log-likelihood of `outputs` (the negated `loss`), recorded for
        `backprop`.

        Args:
            *inputs: the step's inputs.
            outputs: the targets scored.

        Returns:
            One value per example, or a total.

        Raises:
            PipelineError: the step has neither `log_likelihood` nor `loss`.
        """
        if self.score is None:
            return super().log_likelihood(*inputs, outputs=outputs)
        value = self._forward(self.score, inputs + (outputs,), self.sign, drop_last=True)
        return value if self.sign > 0 else -value

    def backprop(self, output_grad: Any = None) -> Any:
        """Reverse mode through the last recorded call; parameter gradients accumulate.

        Args:
            output_grad: the gradient of the loss with respect to the last call's output;
                None when that call was `log_likelihood` and its negation is the loss.

        Returns:
            The gradient with respect to the input (a tuple for several inputs).

        Raises:
            PipelineError: no forward call was recorded.
        """
        if self._pullback is None:
            raise PipelineError(f"step {self.name!r}: backprop needs a recorded forward call "
                                "(produce or log_likelihood) first")
        if output_grad is None:  # the step's own log-likelihood is the loss
            output_grad = -_ones_like(self._out)
        cotangent = output_grad * self._scale if self._scale != 1.0 else output_grad
        grads = self._pullback(cotangent)
        if not self.frozen and self.params is not None and grads[0] is not None:  # {}: None
            self.params.accumulate(grads[0])
        inputs = grads[1:self._n_inputs + 1]
        return inputs[0] if len(inputs) == 1 else tuple(inputs)

    def _forward(self, fn: Callable, args: tuple, scale: float, drop_last: bool = False) -> Any:
        from ..derivatives import vjp
        params = self._values()
        if not self.recording:
            return fn(params, *args) if self.backend == "python" else \
                _compiled(fn, self.backend)(params, *args)
        out, self._pullback = vjp(fn, params, *args, backend=self.backend)
        self._n_inputs = len(args) - (1 if drop_last else 0)
        self._scale, self._out = scale, out
        return out

    # -- the prior

    def log_prior(self) -> float:
        """`log_prior(params)`, 0.0 without a prior.

        Returns:
            log p(parameters) as a float.
        """
        if self.prior is None:
            return 0.0
        return float(_compiled(self.prior, self.backend)(self._values()))

    def backprop_prior(self, scale: float) -> None:
        """Add `scale * d log_prior / d parameters` into the gradients (not when frozen).

        Args:
            scale: the factor on the prior's gradient.
        """
        if self.prior is None or self.frozen:
            return
        from ..derivatives import grad
        self.params.accumulate(_scaled(grad(self.prior, backend=self.backend)(self._values()),
                                       scale))


@functools.lru_cache(maxsize=None)
def _compiled(fn: Callable, backend: str) -> Callable:
    from ..api import differentiable
    return differentiable(fn, backend=backend)


def _ones_like(out: Any) -> Any:
    if hasattr(out, "shape") and len(out.shape):
        return out * 0 + 1
    return 1.0


def _scaled(tree: Any, scale: float) -> Any:
    from .parameters import flatten, unflatten
    leaves, spec = flatten(tree)
    return unflatten(spec, [None if g is None else g * scale for g in leaves])
