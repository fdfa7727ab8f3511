"""A primitive's learnable values, as torch tensors that torch.optim updates in place.

Assumes: a parameter structure is a pytree (dict with string keys, list, tuple, namedtuple,
dataclass) of Python floats and float arrays (NumPy arrays or torch tensors).
Guarantees:
  * `Parameters(tree)` keeps one float64 (or the array's float dtype) torch tensor per leaf;
    `value()` gives the structure back with NumPy views of those tensors (CPU) or the tensors
    themselves (`as_tensors=True`), Python floats where a float was given. An optimizer step
    on `tensors` is therefore seen by the next `value()` with no copy.
  * `accumulate(grads)` adds a gradient of the same structure into the tensors' `.grad`;
    `gradients()` returns them in the structure.
  * `assign(tree)` replaces the values and raises `PipelineError` naming the primitive and
    the first difference when the structure, a shape or a leaf kind differs.
"""
from __future__ import annotations

import dataclasses
from typing import Any, List, Optional, Sequence

import numpy as np
import optree
import torch

from ..errors import PipelineError
from ..frontend.structs import NAMESPACE, register_dataclass

__all__ = ["Parameters", "flatten", "unflatten"]


def _register(tree: Any) -> None:
    """Register every dataclass type in `tree` with adjoin's pytree namespace."""
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        register_dataclass(type(tree))
        for f in dataclasses.fields(tree):
            _register(getattr(tree, f.name))
    elif isinstance(tree, dict):
        for v in tree.values():
            _register(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            _register(v)


def flatten(tree: Any):
    """(leaves, spec) of a structure, dataclasses included."""
    _register(tree)
    return optree.tree_flatten(tree, none_is_leaf=True, namespace=NAMESPACE)


def unflatten(spec: Any, leaves: Sequence[Any]) -> Any:
    return optree.tree_unflatten(spec, list(leaves))


def _leaf_tensor(owner: str, path: str, leaf: Any, device) -> torch.Tensor:
    if isinstance(leaf, bool) or not isinstance(leaf, (float, int, np.ndarray, np.floating,
                                                       torch.Tensor)):
        raise PipelineError(f"{owner}: parameter {path} is a {type(leaf).__name__}; parameters "
                            "are floats and float arrays (NumPy or torch)")
    t = torch.as_tensor(np.asarray(leaf, dtype=np.float64) if isinstance(leaf, (float, int))
                        else leaf)
    if not t.is_floating_point():
        t = t.to(torch.float64)
    return t.detach().clone().to(device if device is not None else t.device)


class Parameters:
    """The learnable values of one primitive (see the module docstring)."""

    def __init__(self, tree: Any, owner: Any, device: Optional[torch.device] = None):
        self._owner = owner  # the primitive (named in messages by its current name) or a text
        leaves, self.spec = flatten(tree)
        self.paths = [_path_text(p) for p in optree.tree_paths(tree, none_is_leaf=True,
                                                                namespace=NAMESPACE)]
        self.scalar = [isinstance(leaf, (float, int, np.floating)) for leaf in leaves]
        self.tensors: List[torch.Tensor] = [
            _leaf_tensor(self.owner, p, leaf, device) for p, leaf in zip(self.paths, leaves)]

    @property
    def owner(self) -> str:
        return self._owner if isinstance(self._owner, str) else f"step {self._owner.name!r}"

    def __len__(self) -> int:
        return len(self.tensors)

    def value(self, as_tensors: bool = False) -> Any:
        out = []
        for t, scalar in zip(self.tensors, self.scalar):
            if scalar:
                out.append(float(t))
            elif as_tensors:
                out.append(t.detach())
            else:
                out.append(t.detach().cpu().numpy())
        return unflatten(self.spec, out)

    def gradients(self) -> Any:
        out = []
        for t, scalar in zip(self.tensors, self.scalar):
            g = t.grad if t.grad is not None else torch.zeros_like(t)
            out.append(float(g) if scalar else g.detach().cpu().numpy())
        return unflatten(self.spec, out)

    def zero_grad(self) -> None:
        for t in self.tensors:
            t.grad = None

    def accumulate(self, grads: Any) -> None:
        leaves = self._leaves_like(grads, "gradient")
        for t, g in zip(self.tensors, leaves):
            g = torch.as_tensor(g if g is not None else 0.0, dtype=t.dtype).to(t.device)
            t.grad = g.expand_as(t).clone() if t.grad is None else t.grad + g

    def assign(self, tree: Any) -> None:
        leaves = self._leaves_like(tree, "parameter")
        with torch.no_grad():
            for t, path, leaf in zip(self.tensors, self.paths, leaves):
                new = torch.as_tensor(np.asarray(leaf) if not isinstance(leaf, torch.Tensor)
                                      else leaf, dtype=t.dtype)
                if tuple(new.shape) != tuple(t.shape):
                    raise PipelineError(f"{self.owner}: parameter {path} has shape "
                                        f"{tuple(new.shape)}, expected {tuple(t.shape)}")
                t.copy_(new)

    def _leaves_like(self, tree: Any, what: str) -> List[Any]:
        leaves, spec = flatten(tree)
        if spec != self.spec:
            raise PipelineError(f"{self.owner}: the {what} structure {_describe(spec)} does "
                                f"not match the parameters' {_describe(self.spec)}")
        return leaves


def _path_text(path: Sequence[Any]) -> str:
    return "params" + "".join(f"[{p!r}]" if isinstance(p, (str, int)) else f".{p}"
                              for p in path)


def _describe(spec: Any) -> str:
    text = str(spec)
    return text if len(text) < 160 else text[:157] + "..."
