"""Shared checks for the NumPy function tests: the primal against CPython + NumPy (value,
dtype, shape), the gradient against central differences and against torch autograd on a
torch twin of the function, forward mode against reverse mode, and the Hessian of one
argument against torch's."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def same_result(got, want, rtol=1e-12, backend="python"):
    """Equal values, and NumPy's dtype and shape (and type: the llvm and torch backends
    return a Python float for a NumPy float64 scalar)."""
    if backend == "python" or isinstance(want, np.ndarray):
        assert type(got) is type(want), (type(got), type(want))
    if isinstance(want, np.ndarray):
        assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)


def _torch_args(args, wrt):
    import torch
    return [torch.tensor(a, dtype=torch.float64, requires_grad=i in wrt)
            if isinstance(a, np.ndarray) else a for i, a in enumerate(args)]


def torch_gradients(tfn, args, wrt):
    import torch
    targs = _torch_args(args, wrt)
    grads = torch.autograd.grad(tfn(*targs), [targs[i] for i in wrt])
    return [g.detach().numpy() for g in grads]


def torch_hessian(tfn, args, i):
    import torch

    def of(z):
        call = _torch_args(args, ())
        call[i] = z
        return tfn(*call)
    return torch.autograd.functional.hessian(of, torch.tensor(args[i])).numpy()


def check_all(fn, tfn, args, wrt, backend, hessian=True):
    """Every mode of `fn` on `backend` against its references."""
    if backend == "torch":
        pytest.importorskip("torch")
    f = adjoin.differentiable(fn, backend=backend)
    same_result(f(*args), fn(*args), backend=backend)
    got = adjoin.grad(f, wrt=wrt)(*args)
    got = got if isinstance(got, tuple) else (got,)
    for k, (g, w) in enumerate(zip(got, numeric_grad(fn, args, wrt))):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7, err_msg=f"vs FD, arg {wrt[k]}")
    if tfn is not None:
        for k, (g, w) in enumerate(zip(got, torch_gradients(tfn, args, wrt))):
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12,
                                       err_msg=f"vs torch, arg {wrt[k]}")
    rng = np.random.default_rng(5)
    tangents = [rng.standard_normal(np.shape(a)) if i in wrt else None
                for i, a in enumerate(args)]
    _, dot = adjoin.jvp(f, args, tangents)
    want = sum(float(np.sum(g * tangents[i])) for g, i in zip(got, wrt))
    assert float(dot) == pytest.approx(want, rel=1e-9, abs=1e-12)
    if hessian and tfn is not None:
        h = adjoin.hessian(f, wrt=wrt[0])(*args)
        np.testing.assert_allclose(h, torch_hessian(tfn, args, wrt[0]), rtol=1e-9,
                                   atol=1e-11)
