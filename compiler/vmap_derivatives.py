"""vmap of derivative functions: per-example gradients, Hessians and JVPs.

Assumes: derivative callables carry `__adjoin_derivative__ = (kind, f, wrt, target)`
(`grad`, `value_and_grad`, `hessian`); `functools.partial(adjoin.jvp, f)`.
Guarantees: the lanes of a batched function are independent, so the gradient of lane
k's value with respect to lane k's argument is the gradient of the sum over lanes
with respect to the batched argument: `vmap(grad(f))` is `grad` of
`sum(vmap(f)(...))` with respect to batched copies of the differentiated arguments (an
argument shared by every lane, in_axes None, is broadcast first, so each lane gets its
own gradient). One reverse pass over the batched code gives every lane's gradient.
`vmap(hessian(f))` takes Hessian-vector products of that sum along each basis vector
(the same in every lane): the Hessian of the sum is block diagonal, so column j of
every lane's Hessian comes out of one batched product. `vmap(partial(jvp, f))` is the
JVP of the batched function, its tangents batched like its primals. Results have
their batch axis at `out_axes` (an int: every leaf the same).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Sequence, Tuple

import numpy as np
import optree

from .runtime import is_tensor


def derivative_vmap(fn: Callable, in_axes, out_axes, backend: Optional[str],
                    error_model: Optional[str]) -> Optional[Callable]:
    """The batched form of a derivative function `fn`, or None for other functions."""
    from .forward_api import jvp
    if isinstance(fn, functools.partial) and fn.func is jvp and len(fn.args) == 1:
        return _batched_jvp(fn.args[0], in_axes, out_axes, backend, error_model, fn.keywords)
    marker = getattr(fn, "__adjoin_derivative__", None)
    if marker is None:
        return None
    kind, f, wrt, target = marker
    if not isinstance(out_axes, int) or isinstance(out_axes, bool):
        raise ValueError(f"adjoin.vmap of a {kind} function takes one int out_axes, got "
                         f"{out_axes!r}")
    backend = backend or target.name
    error_model = error_model or target.error_model
    return _PerExample(kind, f, wrt, in_axes, out_axes, backend, error_model)


class _PerExample:
    """`vmap(grad(f))`, `vmap(value_and_grad(f))`, `vmap(hessian(f))`."""

    def __init__(self, kind, f, wrt, in_axes, out_axes, backend, error_model):
        from .derivatives import wrt_indices
        from .vmapped import Vmapped
        Vmapped(f, in_axes, out_axes)  # checks the axes
        self.kind, self.f, self.in_axes, self.out_axes = kind, f, in_axes, out_axes
        self.indices, self.single = wrt_indices(f, wrt)
        self.backend, self.error_model = backend, error_model
        self.__name__ = f"vmap_{kind}_{f.__name__}"
        self._compiled = {}

    def __call__(self, *args: Any) -> Any:
        from .vmapped import Vmapped
        axes = Vmapped(self.f, self.in_axes).axes_for(len(args))
        size = batch_size(args, axes)
        args = list(args)
        for i in self.indices:  # every lane gets its own copy to differentiate
            if axes[i] is None:
                args[i] = spread(args[i], size)
        axes = tuple(0 if i in self.indices and a is None else a for i, a in enumerate(axes))
        total = self._total(axes)
        if self.kind == "hessian":
            return self._hessian(total, args, axes)
        from .derivatives import grad
        g = grad(total, wrt=self.indices, backend=self.backend,
                 error_model=self.error_model)(*args)
        grads = tuple(g)  # wrt given as a tuple: a tuple of gradients
        grads = tuple(move_batch(x, axes[i], self.out_axes) for x, i in zip(grads, self.indices))
        grads = grads[0] if self.single else grads
        if self.kind == "value_and_grad":
            from .vmapped import vmap
            value = vmap(self.f, axes, self.out_axes, backend=self.backend,
                         error_model=self.error_model)(*args)
            return value, grads
        return grads

    def _total(self, axes: Tuple) -> Callable:
        """The compiled `sum(vmap(f, axes)(...))` (one per axes)."""
        hit = self._compiled.get(axes)
        if hit is None:
            from .api import Differentiable
            from .vmapped import Vmapped, wrapper
            from .primal import check_backend
            lanes = check_backend(self.backend, self.error_model).backend.batching == "lanes"
            mapped = Vmapped(self.f, axes, 0, lanes)
            hit = self._compiled[axes] = Differentiable(
                wrapper(self.f, mapped, total=True), self.backend, self.error_model)
        return hit

    def _hessian(self, total: Callable, args: list, axes: Tuple) -> Any:
        from .forward_api import hvp
        if len(self.indices) != 1:
            raise TypeError("adjoin: vmap of a Hessian takes one argument in wrt")
        i = self.indices[0]
        x = args[i]
        if not isinstance(x, np.ndarray) or axes[i] != 0:
            x = move_batch(np.asarray(x, dtype=np.float64), axes[i], 0)
        lane_shape = x.shape[1:]
        run = hvp(total, wrt=i, backend=self.backend, error_model=self.error_model)
        columns = []
        for j in np.ndindex(lane_shape):
            e = np.zeros(lane_shape)
            e[j] = 1.0
            v = np.broadcast_to(e, x.shape).copy()
            if axes[i] != 0:
                v = move_batch(v, 0, axes[i])
            columns.append(move_batch(np.asarray(run(*args, v)), axes[i], 0))
        out = np.stack(columns, axis=-1).reshape(x.shape + lane_shape)
        return move_batch(out, 0, self.out_axes)


def _batched_jvp(f: Callable, in_axes, out_axes, backend, error_model, keywords):
    """`vmap(partial(adjoin.jvp, f))(primals, tangents)`."""
    from .forward_api import jvp
    from .vmapped import vmap
    if keywords:
        raise ValueError("adjoin.vmap of partial(adjoin.jvp, f) takes no keyword arguments")
    pair = in_axes if isinstance(in_axes, tuple) else (in_axes, in_axes)
    if len(pair) != 2:
        raise ValueError("adjoin.vmap of partial(adjoin.jvp, f): in_axes has one entry for the "
                         "primals and one for the tangents")

    def call(primals: Sequence[Any], tangents: Sequence[Any]):
        primals, tangents = tuple(primals), tuple(tangents)
        n = len(primals)
        p_axes = pair[0] if isinstance(pair[0], tuple) else (pair[0],) * n
        t_axes = pair[1] if isinstance(pair[1], tuple) else (pair[1],) * n
        size = batch_size(primals + tangents, p_axes + t_axes)
        ps, ts, axes = [], [], []
        for p, t, ap, at in zip(primals, tangents, p_axes, t_axes):
            if ap is None and at is None:
                ps.append(p), ts.append(t), axes.append(None)
                continue
            ps.append(spread(p, size) if ap is None else move_batch(p, ap, 0))
            ts.append(spread(t, size) if at is None else move_batch(t, at, 0))
            axes.append(0)
        mapped = vmap(f, tuple(axes), out_axes, backend=backend, error_model=error_model)
        return jvp(mapped, ps, ts)
    call.__name__ = f"vmap_jvp_{getattr(f, '__name__', 'function')}"
    return call


# -- host-side batch helpers ------------------------------------------------------------------


def _leaves(x: Any) -> list:
    return optree.tree_leaves(x, none_is_leaf=True, namespace="adjoin")


def batch_size(args: Sequence[Any], axes: Sequence[Any]) -> int:
    """The one batch size of the mapped arguments (ValueError when they disagree)."""
    sizes = set()
    for a, ax in zip(args, axes):
        if ax is None:
            continue
        for leaf in _leaves(a):
            shape = tuple(leaf.shape) if hasattr(leaf, "shape") else ()
            if not -len(shape) <= ax < len(shape) or not shape:
                raise ValueError(f"adjoin.vmap: in_axes={ax} for a value of shape {shape}")
            sizes.add(shape[ax])
    if len(sizes) != 1:
        raise ValueError(f"adjoin.vmap: the mapped arguments have different batch sizes "
                         f"{sorted(sizes)}" if sizes else "adjoin.vmap: no argument is mapped")
    return sizes.pop()


def spread(x: Any, size: int) -> Any:
    """`x` repeated `size` times along a new leading axis (every leaf of a structure)."""
    def one(leaf):
        if is_tensor(leaf):
            return leaf.unsqueeze(0).expand(size, *leaf.shape).clone()
        if isinstance(leaf, (np.ndarray, float, np.floating)):
            return np.repeat(np.asarray(leaf)[None], size, axis=0)
        return leaf
    return optree.tree_map(one, x, none_is_leaf=True, namespace="adjoin")


def move_batch(x: Any, src: Optional[int], dst: int) -> Any:
    """`x` (every leaf) with its batch axis moved from `src` to `dst`."""
    if src is None or src == dst:
        return x

    def one(leaf):
        if is_tensor(leaf):
            return leaf.movedim(src, dst)
        if isinstance(leaf, np.ndarray):
            return np.moveaxis(leaf, src, dst)
        return leaf
    return optree.tree_map(one, x, none_is_leaf=True, namespace="adjoin")
