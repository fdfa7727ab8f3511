"""Forward mode and higher order: jvp, hessian, hvp, derivative, jacobian.

Assumes: functions accepted by `api.differentiable`.
Guarantees: every derivative here is a transform of IR: `jvp` is the forward
transform; `hessian` and `hvp` apply it to the reverse-mode gradient (forward
over reverse); `derivative(f, order=n)` nests the forward transform n times;
`jacobian` runs one forward pass per input element or one reverse pass per
output element, whichever is fewer (or as `mode` says). Compiled code is cached
per (specialization, what is differentiated), never by function object, and built under
`COMPILE_LOCK`. Tangents of arguments that share memory with another one the function
writes into are refused (CompileError), as gradients are.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .calls import check_not_aliased, parameter_names, prepare
from .derivatives import (_gradient_jvp, check_array_arguments, check_wrt_types,
                          compiled_forward, forward_context, run_compiled, vjp, wrt_indices)
from .ir.builder import Builder
from .ir.core import Function
from .ir.types import F64, Type
from .frontend.structs import flatten_like, has_structure, rebuild
from .primal import result_signature, run_primal, target_for, unwrap
from .runtime import is_tensor


# -- jvp ----------------------------------------------------------------------------------


def _tangent_value(t: Any, primal: Any, ty: Type, name: str) -> Any:
    if isinstance(primal, np.ndarray):
        t = np.asarray(t, dtype=primal.dtype)
        if t.shape != primal.shape:
            raise ValueError(f"adjoin: the tangent of '{name}' has shape {t.shape}, its primal "
                             f"{primal.shape}")
        return t
    if isinstance(primal, tuple):
        return tuple(_tangent_value(a, p, e, f"{name}[{i}]")
                     for i, (a, p, e) in enumerate(zip(t, primal, ty.elts)))
    if is_tensor(primal) and primal.dim():
        import torch
        t = torch.as_tensor(t, dtype=primal.dtype, device=primal.device)
        if t.shape != primal.shape:
            raise ValueError(f"adjoin: the tangent of '{name}' has shape {tuple(t.shape)}, its "
                             f"primal {tuple(primal.shape)}")
        return t
    return float(t)


def jvp(fn: Callable, primals: Sequence[Any], tangents: Sequence[Any], *,
        backend: Optional[str] = None, error_model: Optional[str] = None):
    """`(fn(*primals), directional derivative along tangents)`, by forward mode.

    One pass computes the value and its tangent together, whatever the number of
    outputs. A tangent of None (or for an int or bool argument) means the argument is
    held fixed; the tangent of an int or bool output is None.

    Args:
        fn: the function (plain or `adjoin.differentiable`).
        primals: the arguments, a sequence.
        tangents: one tangent per argument, shaped like it, or None.
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        `(value, tangent)`, the tangent structured as the value.

    Raises:
        TypeError: `primals` and `tangents` differ in length; a nonzero tangent for an
            int or bool argument.
        ValueError: a tangent whose shape differs from its argument's.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x, y):
        ...     return x * np.sin(y)
        >>> value, tangent = adjoin.jvp(f, (2.0, 0.0), (1.0, 1.0))
        >>> value, tangent
        (0.0, 2.0)
    """
    target = target_for(fn, backend, error_model)
    f = unwrap(fn)
    primals, tangents = tuple(primals), tuple(tangents)
    if len(tangents) != len(primals):
        raise TypeError(f"adjoin: jvp got {len(primals)} primals but {len(tangents)} tangents")
    c = prepare(f, primals, {})
    values, types, primal = c.values, c.types, c.primal
    names = parameter_names(f)
    mask = tuple(t is not None and ty.differentiable() for t, ty in zip(tangents, types))
    for t, ty, n in zip(tangents, types, names):
        if t is not None and not ty.differentiable() and np.any(np.asarray(t) != 0):
            raise TypeError(f"adjoin: '{n}' is {ty}; its tangent must be None")
    check_not_aliased(f, c, [i for i, m in enumerate(mask) if m], "jvp")
    dots = [_tangent_value(flatten_like(t, ty, f"the tangent of '{n}'"), v, ty, n)
            for t, v, ty, n, m in zip(tangents, values, types, names, mask) if m]
    mask += (False,) * (len(types) - len(mask))  # captured values have no tangent
    run = compiled_forward((primal.name, mask, "jvp", target),
                           lambda: forward_context().jvp_function(primal, mask), target, "jvp",
                           f, types)
    out, out_dot = run_compiled(f, target, run, values, dots)
    if primal.attrs.get("mutates"):
        out, out_dot = out[0], out_dot[0]
    result_type = result_signature(primal)
    return rebuild(out, result_type), rebuild(_no_tangent_for_ints(out, out_dot), result_type)


def _no_tangent_for_ints(out, dot):
    """Int and bool outputs have no tangent: None (whatever a backend left there)."""
    if isinstance(out, tuple):
        return tuple(_no_tangent_for_ints(o, d) for o, d in zip(out, dot))
    if isinstance(out, (bool, int, np.bool_, np.integer)) or \
            (isinstance(out, np.ndarray) and out.dtype.kind != "f"):
        return None
    return dot


# -- forward over reverse -------------------------------------------------------------------


def _unit(value: Any, k: Tuple[int, ...]) -> Any:
    if isinstance(value, np.ndarray):
        e = np.zeros_like(value, dtype=np.float64)
        e[k] = 1.0
        return e
    return 1.0


def _elements(value: Any):
    return list(np.ndindex(value.shape)) if isinstance(value, np.ndarray) else [()]


def hessian(fn: Callable, wrt=0, *, backend: Optional[str] = None,
            error_model: Optional[str] = None) -> Callable:
    """The Hessian of scalar-valued `fn` (forward over reverse), as a function.

    One forward-mode pass over the gradient's code per input element. For one argument
    of shape s the result has shape s + s; for several (a tuple `wrt`) it is a tuple of
    tuples of blocks, H[i][j] = d2f / dx_i dx_j. For a structured argument (a dict,
    list, ...) the blocks nest in its structure twice, as JAX's do:
    `hessian(f)(p)["W"]["b"]` is d2f / dW db (None for int leaves).

    Args:
        fn: a function returning a float.
        wrt: the parameter, by index or name, or a tuple of them.
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        A function taking `fn`'s arguments and returning the Hessian (a float for a
        float argument, an array of shape s + s for an array of shape s).

    Raises:
        TypeError: `wrt` names an argument with no derivative (int, bool) or `fn` does
            not return a float.
        ValueError: `wrt` is empty, out of range or names a missing parameter.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x):
        ...     return x[0] ** 2 * x[1]
        >>> adjoin.hessian(f)(np.array([1.0, 3.0]))
        array([[6., 2.],
               [2., 0.]])
    """
    target = target_for(fn, backend, error_model)
    f = unwrap(fn)
    indices, single = wrt_indices(f, wrt)

    def call(*args: Any, **kwargs: Any):
        c = prepare(f, args, kwargs)
        values, types = c.values, c.types
        check_wrt_types(f, types, indices)
        run = _gradient_jvp(f, c, indices, target)
        # A piece: one float leaf of one argument (an array or float argument is one leaf;
        # a structure has one per float leaf). Column by column over the pieces' elements.
        pieces = [(i, p) for i, idx in enumerate(indices) for p in _paths(values[idx])
                  if _is_float(_at(values[idx], p))]
        blocks: Dict[Any, Any] = {}
        for j, pj in pieces:
            lj = _at(values[indices[j]], pj)
            cols = []
            for k in _elements(lj):
                dots = [_zeros(values[i]) for i in indices]
                dots[j] = _replaced(dots[j], pj, _unit(lj, k))
                _, gdot = run_compiled(f, target, run, values, (1.0, *dots))
                cols.append(gdot if len(indices) > 1 else (gdot,))
            for i, pi in pieces:
                li = _at(values[indices[i]], pi)
                blocks[(i, pi), (j, pj)] = _assemble([_at(c[i], pi) for c in cols], li, lj)

        def block(i: int, j: int) -> Any:
            vi, vj = values[indices[i]], values[indices[j]]
            rows = {pi: _nest(vj, types[indices[j]], {pj: blocks.get(((i, pi), (j, pj)))
                                                       for pj in _paths(vj)})
                    for pi in _paths(vi)}
            return _nest(vi, types[indices[i]], rows)
        if single:
            return block(0, 0)
        return tuple(tuple(block(i, j) for j in range(len(indices)))
                     for i in range(len(indices)))
    out = assembled_on_host(call)
    out.__adjoin_derivative__ = ("hessian", f, wrt, target)
    return out


def _paths(value: Any) -> List[Tuple[int, ...]]:
    """Paths to the leaves of a nested tuple (a structured argument); () for a leaf."""
    if isinstance(value, tuple):
        return [(k,) + p for k, v in enumerate(value) for p in _paths(v)]
    return [()]


def _at(value: Any, path: Tuple[int, ...]) -> Any:
    for k in path:
        value = value[k]
    return value


def _replaced(value: Any, path: Tuple[int, ...], leaf: Any) -> Any:
    if not path:
        return leaf
    return tuple(_replaced(v, path[1:], leaf) if k == path[0] else v
                 for k, v in enumerate(value))


def _is_float(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return v.dtype.kind == "f"
    return isinstance(v, float)


def _zeros(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_zeros(v) for v in value)
    return _zero(value) if _is_float(value) else 0


def _nest(value: Any, t: Type, by_path: Dict[Tuple[int, ...], Any]) -> Any:
    """`value`'s structure (type `t`) with the leaf at each path replaced by `by_path`'s
    entry (None where there is none: int leaves)."""
    def walk(v: Any, path: Tuple[int, ...]) -> Any:
        if isinstance(v, tuple):
            return tuple(walk(x, path + (k,)) for k, x in enumerate(v))
        return by_path.get(path)
    return rebuild(walk(value, ()), t) if isinstance(value, tuple) else by_path.get(())


def _zero(v: Any) -> Any:
    return np.zeros_like(v, dtype=np.float64) if isinstance(v, np.ndarray) else 0.0


def _assemble(columns: List[Any], row_value: Any, col_value: Any) -> Any:
    """Stack d(grad_i)/d(x_j[k]) over k into a block of shape shape_i + shape_j."""
    col_shape = np.shape(col_value)
    if not columns:  # an empty argument: an empty block
        return np.zeros(np.shape(row_value) + col_shape)
    stacked = np.stack([np.asarray(c, dtype=np.float64) for c in columns], axis=-1)
    out = stacked.reshape(np.shape(row_value) + col_shape)
    return float(out) if out.ndim == 0 else out


def hvp(fn: Callable, wrt=0, *, backend: Optional[str] = None,
        error_model: Optional[str] = None) -> Callable:
    """`hvp(f)(*args, v)`: the Hessian of `f` times `v`, without forming the Hessian.

    One forward-mode pass over the gradient's code (forward over reverse), so the cost
    is a small multiple of one gradient whatever the size of the argument.

    Args:
        fn: a function returning a float.
        wrt: the parameter, by index or name, or a tuple of them (then `v` is a tuple
            with one vector per parameter).
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        A function taking `fn`'s arguments followed by `v` (shaped like the `wrt`
        argument) and returning H @ v, shaped like `v`.

    Raises:
        TypeError: `wrt` names an argument with no derivative (int, bool) or `fn` does
            not return a float.
        ValueError: `wrt` is empty, out of range or names a missing parameter.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x):
        ...     return np.sum(x ** 3)
        >>> adjoin.hvp(f)(np.array([1.0, 2.0]), np.array([1.0, 0.0]))
        array([6., 0.])
    """
    target = target_for(fn, backend, error_model)
    f = unwrap(fn)
    indices, single = wrt_indices(f, wrt)

    def call(*args: Any):
        *args, v = args
        c = prepare(f, args, {})
        values, types = c.values, c.types
        check_wrt_types(f, types, indices)
        run = _gradient_jvp(f, c, indices, target)
        vs = (v,) if single else tuple(v)
        names = parameter_names(f)
        dots = [_tangent_value(flatten_like(d, types[i], f"the vector for '{names[i]}'"),
                               values[i], types[i], names[i]) for d, i in zip(vs, indices)]
        _, gdot = run_compiled(f, target, run, values, (1.0, *dots))
        if single:
            return rebuild(gdot, types[indices[0]])
        return tuple(rebuild(g, types[i]) for g, i in zip(gdot, indices))
    return call


# -- nested forward mode --------------------------------------------------------------------


def _nth_derivative_ir(primal: Function, index: int, order: int) -> Function:
    """An IR function computing d^order f / dx^order by nesting the forward transform."""
    ctx = forward_context()
    current = primal
    for n in range(1, order + 1):
        mask = tuple(i == index for i in range(len(primal.params)))
        jf = ctx.jvp_function(current, mask)
        name = ctx.fresh_name(f"{primal.name}_d{n}")
        wrap = Function(name, primal.param_types, [p.name for p in primal.params], F64,
                        primal.loc)
        b = Builder(wrap.body.block, primal.loc)
        one = b.const(1.0)
        pair = b.op("call", list(wrap.params) + [one], {"callee": jf.name},
                    result_types=[jf.result_type]).result
        d = b.op("tuple_get", [pair], {"index": 1}).result
        d.name = f"d{n}"
        b.op("return", [d], result_types=[])
        ctx.functions[name] = wrap
        current = wrap
    return current


def derivative(fn: Callable, order: int = 1, wrt=0, *, backend: Optional[str] = None,
               error_model: Optional[str] = None) -> Callable:
    """The `order`-th derivative of a scalar function of a scalar argument.

    Computed by nesting forward mode `order` times over `fn`'s code (no finite
    differences); the other arguments are held fixed.

    Args:
        fn: a function returning a float.
        order: which derivative, 1 or more.
        wrt: the float parameter, by index or name.
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        A function taking `fn`'s arguments and returning d^order fn / d wrt^order.

    Raises:
        ValueError: `order` is not a positive int; a bad `wrt`.
        TypeError: the `wrt` argument is not a float, or `fn` does not return a float.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x, a):
        ...     return a * x ** 4
        >>> adjoin.derivative(f, order=3)(1.0, 2.0)
        48.0
    """
    target = target_for(fn, backend, error_model)
    if not isinstance(order, int) or order < 1:
        raise ValueError("adjoin: order must be a positive integer")
    f = unwrap(fn)
    (index,), _ = wrt_indices(f, wrt)

    def call(*args: Any, **kwargs: Any):
        c = prepare(f, args, kwargs)
        values, types, primal = c.values, c.types, c.primal
        if types[index] != F64:
            raise TypeError(f"adjoin: derivative needs a float argument; '{index}' is "
                            f"{types[index]}")
        if primal.result_type != F64:
            raise TypeError("adjoin: derivative needs a function returning a float")
        check_not_aliased(f, c, [index], "derivative")
        run = compiled_forward((primal.name, index, order, "derivative", target),
                               lambda: _nth_derivative_ir(primal, index, order), target,
                               f"derivative {order}", f, types)
        return run_compiled(f, target, run, values)
    return call


# -- jacobians ----------------------------------------------------------------------------------


def jacobian(fn: Callable, wrt=0, mode: Optional[str] = None, *,
             backend: Optional[str] = None, error_model: Optional[str] = None):
    """The Jacobian of `fn` (array or tuple valued) with respect to `wrt`.

    `mode="fwd"` runs one forward pass per input element, `mode="rev"` one
    reverse pass per output element; by default the fewer passes win. The
    result has shape output_shape + input_shape (a tuple over `wrt` and over
    tuple outputs).

    Args:
        fn: a function returning a float, an array or a tuple of them.
        wrt: the parameter, by index or name, or a tuple of them.
        mode: "fwd", "rev" or None (choose by the number of passes).
        backend: "python", "llvm" or "torch"; None for `fn`'s own.
        error_model: as for `adjoin.differentiable`; None for `fn`'s own.

    Returns:
        A function taking `fn`'s arguments and returning the Jacobian.

    Raises:
        ValueError: `mode` is not "fwd", "rev" or None; a bad `wrt`.
        TypeError: a `wrt` argument that is not a float or float array; `fn` returns
            a list, dict or other structure.
        adjoin.CompileError: `fn` cannot be compiled or differentiated.

    Example:
        >>> def f(x):
        ...     return np.array([x[0] * x[1], x[0] + x[1]])
        >>> adjoin.jacobian(f)(np.array([2.0, 3.0]))
        array([[3., 2.],
               [1., 1.]])
    """
    if mode not in (None, "fwd", "rev"):
        raise ValueError("adjoin: mode is 'fwd', 'rev' or None")
    target = target_for(fn, backend, error_model)
    where = {"backend": target.name, "error_model": target.error_model}
    f = unwrap(fn)
    indices, single = wrt_indices(f, wrt)

    def call(*args: Any, **kwargs: Any):
        c = prepare(f, args, kwargs)
        check_wrt_types(f, c.types, indices)
        check_array_arguments(f, c.types, indices, "jacobian")
        values = c.values[:c.n_args]
        out = run_primal(f, c, target)
        if has_structure(result_signature(c.primal)):
            raise TypeError(f"adjoin: jacobian of {f.__name__}(), which returns a list, dict "
                            "or other structure, is not supported; return a tuple or array")
        n_in = sum(max(1, np.size(values[i])) for i in indices)
        n_out = sum(max(1, np.size(o)) for o in _leaves(out))
        use = mode or ("fwd" if n_in <= n_out else "rev")
        blocks = (_jac_fwd if use == "fwd" else _jac_rev)(f, values, indices, out, where)
        blocks = _shape_blocks(blocks, out, values, indices)
        if not isinstance(out, tuple):
            blocks = blocks[0]
            return blocks[0] if single else tuple(blocks)
        return tuple(b[0] if single else tuple(b) for b in blocks)
    return assembled_on_host(call)


def _leaves(out):
    return list(out) if isinstance(out, tuple) else [out]


def _jac_fwd(f, values, indices, out, where: Dict[str, str]):
    """blocks[o][j] = list over input elements of d out_o (flat)."""
    blocks = [[[] for _ in indices] for _ in _leaves(out)]
    for j, idx in enumerate(indices):
        for k in _elements(values[idx]):
            tangents = [(_unit(v, k) if i == idx else None) for i, v in enumerate(values)]
            _, dout = jvp(f, values, tangents, **where)
            for o, (d, leaf) in enumerate(zip(_leaves(dout), _leaves(out))):
                d = np.zeros(np.size(leaf)) if d is None else d  # an int or bool output
                blocks[o][j].append(np.ravel(np.asarray(d, dtype=np.float64)))
    return [[np.stack(cols, axis=-1) if cols else np.zeros((np.size(leaf), 0))
             for cols in row] for row, leaf in zip(blocks, _leaves(out))]


def _jac_rev(f, values, indices, out, where: Dict[str, str]):
    _, pullback = vjp(f, *values, **where)
    leaves = _leaves(out)
    blocks = [[[] for _ in indices] for _ in leaves]
    for o, leaf in enumerate(leaves):
        if not _is_float(leaf):  # the derivative of an int or bool output is zero
            for j, idx in enumerate(indices):
                blocks[o][j] = [np.zeros(np.size(values[idx]))] * max(1, np.size(leaf))
            continue
        for k in _elements(np.asarray(leaf)) if isinstance(leaf, np.ndarray) else [()]:
            ct = [_zero(x) for x in leaves]
            ct[o] = _unit(leaf, k) if isinstance(leaf, np.ndarray) else 1.0
            grads = pullback(tuple(ct) if isinstance(out, tuple) else ct[0])
            for j, idx in enumerate(indices):
                blocks[o][j].append(np.ravel(np.asarray(grads[idx], dtype=np.float64)))
    return [[np.stack(rows, axis=0) if rows else np.zeros((0, np.size(values[idx])))
             for rows, idx in zip(row, indices)] for row in blocks]


def _is_float(v) -> bool:
    return isinstance(v, float) or (isinstance(v, np.ndarray) and v.dtype.kind == "f")


def _shape_blocks(blocks, out, values, indices):
    shaped = []
    for o, leaf in enumerate(_leaves(out)):
        row = []
        for j, idx in enumerate(indices):
            shape = np.shape(leaf) + np.shape(values[idx])
            b = np.asarray(blocks[o][j]).reshape(shape)
            row.append(float(b) if b.ndim == 0 else b)
        shaped.append(row)
    return shaped


def assembled_on_host(call: Callable) -> Callable:
    """A dense Hessian or Jacobian is assembled on the host, column by column: tensor
    arguments are computed on as NumPy copies (on the function's backend), and the result
    comes back as float64 tensors on their device."""
    def on_host(*args: Any, **kwargs: Any):
        device = next((a.device for a in args if is_tensor(a)), None)
        if device is None:
            return call(*args, **kwargs)
        import torch
        out = call(*[_host(a) for a in args], **kwargs)
        return _device_tree(out, device, torch)
    on_host.__name__ = getattr(call, "__name__", "derivative")
    return on_host


def _host(a: Any) -> Any:
    if is_tensor(a):
        a = a.detach().cpu()
        return a.item() if a.dim() == 0 else a.numpy()
    return tuple(_host(x) for x in a) if isinstance(a, tuple) else a


def _device_tree(v: Any, device, torch) -> Any:
    if isinstance(v, tuple):
        return tuple(_device_tree(x, device, torch) for x in v)
    return torch.as_tensor(np.asarray(v, dtype=np.float64), device=device)

