"""A pipeline step wrapping a torch `nn.Module`; its backprop is torch autograd.

Assumes: `module(*inputs)` maps tensors with examples along axis 0 to a tensor.
Guarantees:
  * inputs arrive as tensors on the module's device in its floating dtype (a pipeline
    converts); the output keeps its graph, so `backprop(output_grad)` runs
    `torch.autograd.backward` once: the module's parameters get their `.grad` (the
    optimizer's leaves) and the inputs' gradients are returned;
  * a frozen module's parameters are left out of the optimizer and their gradients are
    dropped;
  * `log_likelihood(out, target)` / `loss(out, target)`, when given, score the module's
    output per example (a tensor of shape (N,)) for local training or as the last step.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional

import torch

from ..errors import PipelineError
from .primitive import Primitive

__all__ = ["TorchModule"]


class TorchModule(Primitive):
    """A torch `nn.Module` as a pipeline step.

    Args:
        module: the module; its parameters with `requires_grad` are the step's parameters.
        log_likelihood: `ll(output, target) -> tensor (N,)` (or a scalar total).
        loss: instead, a loss to minimise, e.g. `lambda out, y: ((out - y) ** 2).sum(1)`.
        name: the step's name in messages (default: the module's class name).

    Attributes:
        module: the wrapped module.

    Raises:
        PipelineError: `module` is not an `nn.Module`, or both `log_likelihood` and
            `loss` are given.
    """

    tensor_io = True

    def __init__(self, module: torch.nn.Module, *, log_likelihood: Optional[Callable] = None,
                 loss: Optional[Callable] = None, name: Optional[str] = None):
        if not isinstance(module, torch.nn.Module):
            raise PipelineError(f"TorchModule takes a torch.nn.Module, not "
                                f"{type(module).__name__}")
        super().__init__(name, default=type(module).__name__)
        if log_likelihood is not None and loss is not None:
            raise PipelineError(f"step {self.name!r}: give log_likelihood= or loss=, not both")
        self.module = module
        self.score, self.sign = (loss, -1.0) if loss is not None else (log_likelihood, 1.0)
        self._inputs: List[torch.Tensor] = []
        self._out: Optional[torch.Tensor] = None

    @property
    def device(self) -> torch.device:
        """The device of the module's first parameter (CPU without parameters)."""
        first = next(self.module.parameters(), None)
        return first.device if first is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the module's first parameter (float64 without parameters)."""
        first = next(self.module.parameters(), None)
        return first.dtype if first is not None else torch.float64

    def tensors(self) -> List[torch.Tensor]:
        """The module's parameters with `requires_grad`.

        Returns:
            A list of tensors.
        """
        return [p for p in self.module.parameters() if p.requires_grad]

    @property
    def parameters(self) -> Any:
        """The module's named parameters as NumPy arrays; set from a dict with the same
        keys and shapes (else PipelineError)."""
        return {k: v.detach().cpu().numpy() for k, v in self.module.named_parameters()}

    @parameters.setter
    def parameters(self, tree: Any) -> None:
        own = dict(self.module.named_parameters())
        if not isinstance(tree, dict) or set(tree) != set(own):
            raise PipelineError(f"step {self.name!r}: parameters must be a dict with the keys "
                                f"{sorted(own)}, got {sorted(tree) if isinstance(tree, dict) else type(tree).__name__}")
        with torch.no_grad():
            for k, v in tree.items():
                v = torch.as_tensor(v, dtype=own[k].dtype)
                if v.shape != own[k].shape:
                    raise PipelineError(f"step {self.name!r}: parameter {k!r} has shape "
                                        f"{tuple(v.shape)}, expected {tuple(own[k].shape)}")
                own[k].copy_(v)

    @property
    def gradients(self) -> Any:
        """The accumulated gradients by parameter name, as NumPy arrays (zeros if none)."""
        return {k: (v.grad if v.grad is not None else torch.zeros_like(v)).detach().cpu().numpy()
                for k, v in self.module.named_parameters()}

    def produce(self, *inputs: Any) -> torch.Tensor:
        """`module(*inputs)`, recorded for `backprop` unless `recording` is off.

        Args:
            *inputs: tensors, rows = examples.

        Returns:
            The module's output, detached.
        """
        return self._forward(self.module, inputs)

    def log_likelihood(self, *inputs: Any, outputs: Any) -> torch.Tensor:
        """`log_likelihood(module(*inputs), outputs)` (or the negated `loss`), recorded.

        Args:
            *inputs: tensors, rows = examples.
            outputs: the targets.

        Returns:
            A tensor, one value per example (or a total), detached.

        Raises:
            PipelineError: the step has neither `log_likelihood` nor `loss`.
        """
        if self.score is None:
            return super().log_likelihood(*inputs, outputs=outputs)
        out = self._forward(lambda *xs: self.sign * self.score(self.module(*xs), outputs),
                            inputs)
        return out

    def _forward(self, run: Callable, inputs: tuple) -> torch.Tensor:
        if not self.recording:
            with torch.no_grad():
                return run(*inputs)
        self._inputs = [x.detach().requires_grad_(x.is_floating_point()) for x in inputs]
        with torch.enable_grad():
            self._out = run(*self._inputs)
        return self._out.detach()

    def backprop(self, output_grad: Any = None) -> Any:
        """torch autograd through the last recorded call; parameter gradients accumulate
        into `.grad` (not when frozen). The recorded graph is freed.

        Args:
            output_grad: the loss's gradient with respect to the last call's output; None
                when that call was `log_likelihood` and its negation is the loss.

        Returns:
            The gradient with respect to the input (None for a non-float input; a tuple
            for several inputs).

        Raises:
            PipelineError: no forward call was recorded.
        """
        if self._out is None:
            raise PipelineError(f"step {self.name!r}: backprop needs a recorded forward call "
                                "(produce or log_likelihood) first")
        out = self._out
        if output_grad is None:
            output_grad = -torch.ones_like(out)
        grad = torch.as_tensor(output_grad, dtype=out.dtype, device=out.device)
        leaves = [x for x in self._inputs if x.requires_grad]
        wanted = leaves + ([] if self.frozen else self.tensors())
        if wanted:
            grads = torch.autograd.grad(out, wanted, grad_outputs=grad.expand_as(out),
                                        allow_unused=True)
            for p, g in zip(wanted[len(leaves):], grads[len(leaves):]):
                if g is not None:
                    p.grad = g if p.grad is None else p.grad + g
            by_input = dict(zip(map(id, leaves), grads[:len(leaves)]))
        else:
            by_input = {}
        self._out = None  # the graph is freed by one backprop
        result = tuple(by_input.get(id(x)) for x in self._inputs)
        return result[0] if len(result) == 1 else result
