"""The primitive interface every pipeline step implements.

Assumes: rows of every input and output are examples (axis 0).
Guarantees (for every subclass):
  * `produce(*inputs)` runs the step forward (`sample(*inputs, n)` draws n outputs per row
    for stochastic steps, stacked draw-major: row `l * N + i` is draw l of example i); the
    call is remembered so that `backprop(output_grad)` can follow it.
  * `log_likelihood(*inputs, outputs)` returns one log-likelihood per example (or a total);
    `backprop()` after it, with no argument, differentiates the loss `-sum(log_likelihood)`.
  * `backprop(output_grad)` adds d loss / d parameters into `gradients` (unless the step is
    frozen) and returns d loss / d inputs, one per input (a tuple when there are several).
  * `set_training_data(inputs, outputs)` stores local data; `fit()` trains the step alone on
    it and on its prior, with torch.optim; `parameters` / `gradients` are structured values.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..errors import PipelineError

__all__ = ["Primitive"]


class Primitive:
    """Base class of pipeline steps.

    Subclasses implement `produce` (or `sample`), `backprop`, and where they have a local
    objective `log_likelihood`; steps with parameters also `tensors`, `parameters` and
    `gradients`.

    Args:
        name: the step's name in messages; None to let a `Pipeline` name it after its entry.
        default: the name used when `name` is None and no pipeline names the step.

    Attributes:
        name: the step's name.
        frozen: True keeps the parameters fixed in training.
        recording: True makes forward calls keep what `backprop` needs.
        training_data: `(inputs, outputs)` for a local objective, or None.
        stochastic: True when `sample` draws and `produce` gives the mean.
        differentiable: True when `backprop` returns gradients for the inputs.
        tensor_io: True when the step takes and returns torch tensors (else float64
            NumPy arrays).
    """

    stochastic = False       # sample() draws; produce() gives a point (the mean)
    differentiable = True    # backprop can return gradients with respect to the inputs
    tensor_io = False        # takes and returns torch tensors (else float64 NumPy arrays)

    def __init__(self, name: Optional[str] = None, default: Optional[str] = None):
        self.name = name or default or type(self).__name__
        self.name_given = name is not None  # else a Pipeline names the step after its entry
        self.frozen = False
        self.recording = True  # forward calls keep what backprop needs
        self.training_data: Optional[Tuple[Tuple[Any, ...], Any]] = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # -- the interface -------------------------------------------------------------------------

    def produce(self, *inputs: Any) -> Any:
        """The step's output for a batch (the mean for a stochastic step).

        Args:
            *inputs: the step's inputs, rows = examples.

        Returns:
            The output, in the kind the step takes (tensor or NumPy array).

        Raises:
            NotImplementedError: the subclass does not implement it.
        """
        raise NotImplementedError(f"{type(self).__name__}.produce")

    def sample(self, *inputs: Any, n: int = 1) -> Any:
        """n draws per row.

        A deterministic step's draws all equal its output (a pipeline backprops through
        deterministic steps on tiled rows, so this is for reading only).

        Args:
            *inputs: the step's inputs, rows = examples.
            n: draws per row.

        Returns:
            The outputs of the draws, draw-major rows.
        """
        out = self.produce(*inputs)
        return out if n == 1 else _tile(out, n)

    def log_likelihood(self, *inputs: Any, outputs: Any) -> Any:
        """log p(outputs | inputs, parameters), recorded for `backprop`.

        Args:
            *inputs: the step's inputs.
            outputs: the targets scored.

        Returns:
            One value per example, or a total.

        Raises:
            PipelineError: the step has no log-likelihood.
        """
        raise PipelineError(f"step {self.name!r} ({type(self).__name__}) has no "
                            "log-likelihood: give it log_likelihood= or loss=")

    def backprop(self, output_grad: Any = None) -> Any:
        """Reverse mode through the last recorded call; parameter gradients accumulate.

        Args:
            output_grad: the loss's gradient with respect to the last call's output; None
                when that call was `log_likelihood` and its negation is the loss.

        Returns:
            The gradient with respect to the input (a tuple for several inputs).

        Raises:
            PipelineError: the step cannot backprop.
        """
        raise PipelineError(f"step {self.name!r} ({type(self).__name__}) cannot backprop")

    def log_prior(self) -> float:
        """log p(parameters); its gradient is added by `backprop_prior`.

        Returns:
            The log prior as a float (0.0 here).
        """
        return 0.0

    def backprop_prior(self, scale: float) -> None:
        """Add `scale * d log_prior / d parameters` into the gradients.

        Args:
            scale: the factor on the prior's gradient.
        """

    def set_training_data(self, inputs: Any, outputs: Any = None) -> None:
        """Give the step local data for `fit` and for a local term in `Pipeline.fit`.

        Args:
            inputs: an array, or a tuple of arrays, rows = examples.
            outputs: the targets, or None.

        Raises:
            PipelineError: the arrays have different numbers of rows.
        """
        inputs = inputs if isinstance(inputs, tuple) else (inputs,)
        rows = {len(x) for x in inputs} | ({len(outputs)} if outputs is not None else set())
        if len(rows) != 1:
            raise PipelineError(f"step {self.name!r}: training inputs and outputs have "
                                f"different numbers of rows {sorted(rows)}")
        self.training_data = (inputs, outputs)

    @property
    def has_local_objective(self) -> bool:
        """True when the step has training data and a log-likelihood to fit them."""
        return self.training_data is not None and type(self).log_likelihood is not \
            Primitive.log_likelihood

    # -- parameters ------------------------------------------------------------------------------

    def tensors(self) -> List[torch.Tensor]:
        """The leaf tensors an optimizer updates.

        Returns:
            A list of tensors (empty for a step with no parameters).
        """
        return []

    @property
    def parameters(self) -> Any:
        """The step's parameters in their own structure (settable)."""
        return {}

    @parameters.setter
    def parameters(self, tree: Any) -> None:
        raise PipelineError(f"step {self.name!r} has no parameters to set")

    @property
    def gradients(self) -> Any:
        """The accumulated gradients, in the parameters' structure."""
        return {}

    def zero_grad(self) -> None:
        """Clear the accumulated gradients."""
        for t in self.tensors():
            t.grad = None

    # -- training alone ------------------------------------------------------------------------

    def fit(self, steps: int = 200, lr: float = 1e-2, optimizer: Optional[Callable] = None,
            batch_size: Optional[int] = None, progress: bool = False, seed: int = 0) -> list:
        """Train this step alone on its local data and prior.

        Args:
            steps: optimizer steps.
            lr: the learning rate.
            optimizer: a torch.optim class (default Adam).
            batch_size: rows per step (None: all).
            progress: show a tqdm bar with the loss.
            seed: seeds the batch order.

        Returns:
            The history: one `{"step", "loss"}` dict per optimizer step.

        Raises:
            PipelineError: the step has no training data or no log-likelihood.
        """
        from .training import minimise, batches
        if not self.has_local_objective:
            raise PipelineError(f"step {self.name!r} has no local training data and "
                                "log-likelihood to fit; call set_training_data first")
        inputs, outputs = self.training_data
        n = len(inputs[0])
        order = batches(n, batch_size, seed)

        def objective(step: int) -> float:
            idx = next(order)
            total = self.local_term(tuple(_convert(_rows(x, idx), self) for x in inputs),
                                    _convert(_rows(outputs, idx), self, keep_int=True),
                                    weight=1.0)
            self.backprop_prior(-1.0 / n)
            return total - self.log_prior() / n
        return minimise(objective, self.tensors(), steps=steps, lr=lr, optimizer=optimizer,
                        progress=progress, desc=f"fit {self.name}")

    def local_term(self, inputs: Sequence[Any], outputs: Any, weight: float) -> float:
        """-weight * mean log-likelihood of the rows given; its gradient is accumulated.

        Args:
            inputs: the step's inputs for these rows.
            outputs: their targets.
            weight: the factor on the mean log-likelihood.

        Returns:
            The term as a float.
        """
        ll = np.asarray(self.log_likelihood(*inputs, outputs=outputs), dtype=np.float64)
        rows = len(inputs[0])
        if ll.ndim == 0:
            self.backprop(np.float64(-weight / rows))
            return -weight * float(ll) / rows
        self.backprop(np.full(ll.shape, -weight / rows))
        return -weight * float(ll.sum()) / rows


def _tile(x: Any, n: int) -> Any:
    if isinstance(x, torch.Tensor):
        return x.repeat((n,) + (1,) * (x.dim() - 1))
    x = np.asarray(x)
    return np.tile(x, (n,) + (1,) * (x.ndim - 1))


def _rows(x: Any, idx: np.ndarray) -> Any:
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        return x[torch.as_tensor(idx, device=x.device)]
    return np.asarray(x)[idx]


def _numpy(v: Any) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return np.asarray(v)


def _convert(v: Any, prim: Primitive, keep_int: bool = False) -> Any:
    """`v` in the kind `prim` takes: a tensor in its dtype and device, or a NumPy array."""
    if v is None or isinstance(v, (float, int)):
        return v
    if prim.tensor_io:
        t = torch.as_tensor(v) if not isinstance(v, torch.Tensor) else v
        if t.is_floating_point() or not keep_int:
            t = t.to(getattr(prim, "dtype", torch.float64))
        return t.to(getattr(prim, "device", t.device))
    a = _numpy(v)
    return a if keep_int and a.dtype.kind in "iub" else a.astype(np.float64, copy=False)
