"""adjoin and PyTorch in both directions: `adjoin.torch.function` and `adjoin.torch.opaque`.

Assumes: torch is installed (importing this module imports it); functions accepted by
`adjoin.differentiable`.
Guarantees:
  * `function(f, backend=...)` is a callable on tensors that takes part in torch autograd:
    forward runs adjoin's primal through `adjoin.vjp` and keeps its tape, backward runs
    adjoin's pullback on that tape. With `create_graph=True` the backward pass is itself a
    torch op whose derivative comes from adjoin's forward-over-reverse code (double
    backward; third derivatives are refused by torch's `once_differentiable`). On the torch
    backend tensors stay where they are; on python and llvm they are NumPy views of CPU
    tensors (no copies).
  * `opaque(fn)` makes a torch function or module usable inside adjoin-compiled code: it
    runs as one opaque step (tensors in and out on the torch backend; NumPy arrays are
    converted on the others) and its derivative comes from torch autograd.
"""
from __future__ import annotations

import importlib.util
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .api import Differentiable, differentiable
from .custom import CustomVJP
from .derivatives import vjp
from .forward_api import hvp
from .derivatives import grad
from .primal import unwrap

__all__ = ["function", "opaque", "AdjoinFunction"]


# -- adjoin inside PyTorch ------------------------------------------------------------------


class AdjoinFunction:
    """`f` compiled by adjoin, as a function of tensors that torch autograd differentiates.

    Built by `adjoin.torch.function`. Calling it runs adjoin's primal through `adjoin.vjp`
    (keeping its tape) inside a `torch.autograd.Function`; torch's backward pass runs
    adjoin's pullback, and with `create_graph=True` a second backward uses adjoin's
    forward-over-reverse code.

    Args:
        f: a plain Python function or an `adjoin.differentiable` one.
        backend: "python", "llvm" or "torch"; None for `f`'s own backend, else "torch".

    Attributes:
        backend: the name of the backend the code runs on.
        fn: the plain Python function compiled.
        compiled: the `adjoin.Differentiable` of `fn` on `backend`.

    Raises:
        adjoin.CompileError: `f` cannot be compiled or differentiated (at the first call).
        ValueError: on "python" or "llvm", a tensor argument is not on the CPU.
    """

    def __init__(self, f: Callable, backend: Optional[str] = None):
        own = getattr(f, "target", None)
        self.backend = backend or (own.name if own is not None else "torch")
        self.fn = unwrap(f)
        self.compiled: Differentiable = differentiable(self.fn, backend=self.backend)
        self._contracted: dict = {}
        self.__name__ = getattr(self.fn, "__name__", "adjoin_function")
        self.__doc__ = self.fn.__doc__

    def __repr__(self) -> str:
        return f"<adjoin.torch.function {self.__name__} on {self.backend}>"

    def __call__(self, *args: Any) -> Any:
        flags = tuple(_is_float_tensor(a) for a in args)
        out = _Forward.apply(self, flags, *args)
        return out[0] if len(out) == 1 and not self._tuple_out else tuple(out)

    # -- conversions between torch and the backend's values

    def to_backend(self, a: Any) -> Any:
        """One argument as the backend takes it.

        Args:
            a: a tensor or any other argument.

        Returns:
            `a` detached on the torch backend; on python and llvm, a NumPy view of a CPU
            tensor (a Python number for a 0-d one). Non-tensors are returned unchanged.

        Raises:
            ValueError: the backend is not torch and `a` is not on the CPU.
        """
        if not isinstance(a, torch.Tensor):
            return a
        a = a.detach()
        if self.backend == "torch":
            return a
        if a.device.type != "cpu":
            raise ValueError(f"adjoin: the {self.backend} backend runs on the CPU; got a "
                             f"tensor on {a.device} (use backend=\"torch\")")
        return a.numpy() if a.dim() else a.item()

    def contracted(self, arity: int, out_shape: Tuple) -> Callable:
        """`s(*args, *cts) = <cts, f(*args)>`, compiled by adjoin (for double backward).

        Args:
            arity: the number of arguments of `f`.
            out_shape: one `(shape, is_float)` pair per output of `f`.

        Returns:
            The compiled contraction, cached per `(arity, out_shape)`.
        """
        key = (arity, out_shape)
        hit = self._contracted.get(key)
        if hit is None:
            hit = self._contracted[key] = differentiable(
                _contraction(self.fn, arity, out_shape), backend=self.backend)
        return hit


def _is_float_tensor(a: Any) -> bool:
    return isinstance(a, torch.Tensor) and a.is_floating_point()


def _like(v: Any, device, dtype=torch.float64) -> torch.Tensor:
    if isinstance(v, torch.Tensor):
        return v
    if isinstance(v, np.ndarray):
        return torch.from_numpy(v).to(device)
    return torch.tensor(v, dtype=dtype if isinstance(v, float) else None, device=device)


def _device(args: Sequence[Any]):
    return next((a.device for a in args if isinstance(a, torch.Tensor)), torch.device("cpu"))


class _Forward(torch.autograd.Function):
    """forward: adjoin's vjp (value and tape); backward: its pullback."""

    @staticmethod
    def forward(ctx, af: AdjoinFunction, flags: Tuple[bool, ...], *args: Any):
        values = [af.to_backend(a) for a in args]
        wrt = tuple(i for i, f in enumerate(flags) if f)
        device = _device(args)
        if wrt:
            value, pullback = vjp(af.compiled, *values)
        else:
            value, pullback = af.compiled(*values), None
        af._tuple_out = isinstance(value, tuple)
        outs = value if isinstance(value, tuple) else (value,)
        tensors = tuple(_like(o, device) for o in outs)
        ctx.af, ctx.flags, ctx.pullback, ctx.device = af, flags, pullback, device
        ctx.out_shape = tuple((tuple(t.shape), t.is_floating_point()) for t in tensors)
        ctx.save_for_backward(*[a if isinstance(a, torch.Tensor) else None for a in args])
        ctx.plain = [None if isinstance(a, torch.Tensor) else a for a in args]
        ctx.mark_non_differentiable(*[t for t in tensors if not t.is_floating_point()])
        return tensors

    @staticmethod
    def backward(ctx, *cts: torch.Tensor):
        args = [s if s is not None else p for s, p in zip(ctx.saved_tensors, ctx.plain)]
        cts = tuple(torch.zeros(s, dtype=torch.float64, device=ctx.device) if c is None else c
                    for c, (s, _) in zip(cts, ctx.out_shape))
        if ctx.pullback is None:
            return (None, None) + (None,) * len(args)
        if torch.is_grad_enabled():  # create_graph=True: a differentiable backward
            grads = _Backward.apply(ctx.af, ctx.flags, ctx.out_shape, len(args), *args, *cts)
        else:
            grads = _pullback(ctx, cts)
        it = iter(grads)
        return (None, None) + tuple(next(it) if f else None for f in ctx.flags)


def _pullback(ctx, cts) -> List[torch.Tensor]:
    af = ctx.af
    floats = [c for c, (_, is_float) in zip(cts, ctx.out_shape)]
    ct = tuple(af.to_backend(c) if is_f else 0 for c, (_, is_f) in zip(floats, ctx.out_shape))
    got = ctx.pullback(ct if af._tuple_out else ct[0])
    return [_like(g, ctx.device) for g, f in zip(got, ctx.flags) if f]


class _Backward(torch.autograd.Function):
    """The pullback as a torch op of (args, cotangents); its own derivative is adjoin's
    Hessian-vector product of <cotangents, f(args)>."""

    @staticmethod
    def forward(ctx, af, flags, out_shape, n, *inputs):
        args, cts = inputs[:n], inputs[n:]
        s = af.contracted(n, out_shape)
        wrt = tuple(i for i, f in enumerate(flags) if f)
        values = [af.to_backend(a) for a in args] + [af.to_backend(c) for c in cts]
        got = grad(s, wrt=wrt)(*values)
        device = _device(inputs)
        ctx.af, ctx.s, ctx.wrt, ctx.n, ctx.device = af, s, wrt, n, device
        ctx.save_for_backward(*[x if isinstance(x, torch.Tensor) else None for x in inputs])
        ctx.plain = [None if isinstance(x, torch.Tensor) else x for x in inputs]
        return tuple(_like(g, device) for g in got)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *gs):
        inputs = [s if s is not None else p for s, p in zip(ctx.saved_tensors, ctx.plain)]
        n = ctx.n
        ct_idx = tuple(range(n, len(inputs)))
        wrt = ctx.wrt + tuple(i for i in ct_idx if _is_float_tensor(inputs[i]))
        af = ctx.af
        values = [af.to_backend(x) for x in inputs]
        vs = [af.to_backend(g if g is not None else torch.zeros_like(inputs[i]))
              for g, i in zip(gs, ctx.wrt)]
        vs += [af.to_backend(torch.zeros_like(inputs[i])) for i in wrt[len(ctx.wrt):]]
        got = hvp(ctx.s, wrt=wrt)(*values, tuple(vs))
        by_index = dict(zip(wrt, got))
        return (None, None, None, None) + tuple(
            _like(by_index[i], ctx.device) if i in by_index else None
            for i in range(len(inputs)))


def _contraction(fn: Callable, arity: int, out_shape: Tuple) -> Callable:
    """A Python function, written to a file so adjoin can read it, computing the sum of
    the cotangents times `fn`'s float outputs."""
    from .backends.python import write_source
    params = [f"x{i}" for i in range(arity)]
    cts = [f"ct{k}" for k in range(len(out_shape))]
    single = len(out_shape) == 1
    terms = []
    for k, (shape, is_float) in enumerate(out_shape):
        if not is_float:
            continue
        out = "out" if single else f"out[{k}]"
        terms.append(f"np.sum(ct{k} * {out})" if shape else f"ct{k} * {out}")
    body = " + ".join(terms) or "0.0"
    src = (f'"""<cotangents, {fn.__name__}(...)>, for double backward."""\n'
           "import numpy as np\n\n\n"
           f"def contracted({', '.join(params + cts)}):\n"
           f"    out = fn({', '.join(params)})\n"
           f"    return {body}\n")
    path = write_source(f"contracted_{fn.__name__}", src)
    spec = importlib.util.spec_from_file_location(f"adjoin_contracted_{id(fn)}", path)
    module = importlib.util.module_from_spec(spec)
    module.fn = fn
    spec.loader.exec_module(module)
    return module.contracted


def function(f: Callable, backend: Optional[str] = None) -> AdjoinFunction:
    """`f` as a function of tensors that takes part in torch autograd.

    Forward runs adjoin's primal through `adjoin.vjp` and keeps its tape; backward runs
    adjoin's pullback on it. With `create_graph=True` the backward pass is itself a torch
    op whose derivative is adjoin's forward-over-reverse code, so double backward works
    (third order is refused by torch's `once_differentiable`). On the torch backend tensors
    stay on their device; on python and llvm, CPU tensors are passed as NumPy views.

    Args:
        f: a plain Python function or an `adjoin.differentiable` one.
        backend: "python", "llvm" or "torch"; None for `f`'s own backend (a
            Differentiable), else "torch".

    Returns:
        An `AdjoinFunction`: call it with tensors (and other arguments); float tensor
        results take part in torch autograd.

    Raises:
        adjoin.CompileError: `f` cannot be compiled or differentiated (at the first call).
        ValueError: on "python" or "llvm", a tensor argument is not on the CPU.

    Example:
        >>> import torch
        >>> def f(x):
        ...     return np.sum(np.sin(x) * x)
        >>> tf = adjoin.torch.function(f)
        >>> tf
        <adjoin.torch.function f on torch>
        >>> x = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
        >>> tf(x).backward()
        >>> torch.allclose(x.grad, torch.sin(x) + x * torch.cos(x))
        True
    """
    return AdjoinFunction(f, backend)


# -- PyTorch inside adjoin --------------------------------------------------------------------


class TorchOpaque(CustomVJP):
    """A torch function or module run as one opaque step by adjoin-compiled code.

    Built by `adjoin.torch.opaque`.

    Args:
        fn: the torch function or `nn.Module`.
        returns: the result type ("f64[:]") when it is not the first argument's.

    Attributes:
        torch_fn: the wrapped torch function or module.
        vjp_rule: the rule computing the VJP with `torch.autograd.grad`.
    """

    kind = "torch.opaque"

    def __init__(self, fn: Callable, returns: Optional[str] = None):
        super().__init__(fn, returns)
        self.torch_fn = fn
        self.fn = self._run
        self.vjp_rule = _OpaqueRule(self)

    def _run(self, *args: Any) -> Any:
        with torch.no_grad():
            out = self.torch_fn(*[_tensor_of(a) for a in args])
        return _back_like(out, args)


class _OpaqueRule:
    """rule(*args, out, out_bar): the VJP from torch autograd (run by CPython)."""

    __adjoin_opaque__ = True

    def __init__(self, owner: TorchOpaque):
        self.owner = owner
        self.__name__ = f"{getattr(owner.torch_fn, '__name__', 'torch')}_vjp"

    def __call__(self, *args: Any) -> Any:
        *inputs, _, out_bar = args
        xs = [_tensor_of(a).detach().requires_grad_(_is_float_tensor(_tensor_of(a)))
              for a in inputs]
        with torch.enable_grad():
            out = self.owner.torch_fn(*xs)
            outs = out if isinstance(out, tuple) else (out,)
            bars = out_bar if isinstance(out, tuple) else (out_bar,)
            pairs = [(o, _tensor_of(b).to(o.dtype)) for o, b in zip(outs, bars)
                     if isinstance(o, torch.Tensor) and o.requires_grad]
            need = [x for x in xs if x.requires_grad]
            got = torch.autograd.grad([o for o, _ in pairs], need, [b for _, b in pairs],
                                      allow_unused=True) if pairs and need else ()
        it = iter(got)
        grads = [next(it) if x.requires_grad else None for x in xs]
        grads = [torch.zeros_like(x) if g is None and x.requires_grad else g
                 for g, x in zip(grads, xs)]
        result = tuple(None if g is None else _back_like(g, (a,)) for g, a in zip(grads, inputs))
        return result[0] if len(result) == 1 else result


def _tensor_of(a: Any) -> Any:
    if isinstance(a, torch.Tensor):
        return a
    if isinstance(a, np.ndarray):
        return torch.from_numpy(a)
    if isinstance(a, float):
        return torch.tensor(a, dtype=torch.float64)
    return a


def _back_like(out: Any, args: Sequence[Any]) -> Any:
    """Results in the kind of the arguments: tensors for tensors, NumPy otherwise."""
    if isinstance(out, tuple):
        return tuple(_back_like(o, args) for o in out)
    if not isinstance(out, torch.Tensor):
        return out
    if any(isinstance(a, torch.Tensor) for a in args):
        return out.detach()
    out = out.detach().cpu()
    return out.item() if out.dim() == 0 else out.numpy()


def opaque(fn: Optional[Callable] = None, *, returns: Optional[str] = None):
    """Make a torch function or `nn.Module` callable from adjoin-compiled code.

    It runs as one opaque step (a custom rule): tensors in and out on the torch backend,
    NumPy arrays converted to tensors and back on the python backend; its derivative
    comes from `torch.autograd.grad`. Usable as `opaque(fn)` or as a decorator
    `@opaque(returns=...)`.

    Args:
        fn: the torch function or module; None to return a decorator.
        returns: the result type ("f64[:]") when it is not the first argument's.

    Returns:
        A `TorchOpaque` callable from adjoin-compiled functions (or, with `fn` None, a
        decorator making one).

    Raises:
        adjoin.BackendError: a function calling it is compiled for llvm, which cannot
            call Python (at compile time).

    Example:
        >>> import torch
        >>> square = adjoin.torch.opaque(lambda t: t * t)
        >>> def g(x):
        ...     return np.sum(square(x))
        >>> dg = adjoin.grad(adjoin.differentiable(g, backend="torch"))
        >>> dg(torch.tensor([1.0, 3.0], dtype=torch.float64))
        tensor([2., 6.], dtype=torch.float64)
    """
    if fn is None:
        return lambda f: TorchOpaque(f, returns)
    return TorchOpaque(fn, returns)
