"""Layer 2: gradients of every float-input corpus function against references.

Each corpus function with float arguments is differentiated with respect to all
of them, at every listed input (the inputs cover both sides of each branch),
and compared with central finite differences and, where the same code runs
under torch (tests use `adjoin.testing.torch_eager`), with torch.autograd.
Functions with array or tuple outputs go through `adjoin.vjp` with a fixed
random cotangent.
"""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad, torch_grad

from corpus import CORPUS


def _float_params(args):
    return [i for i, a in enumerate(args)
            if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")]


def _cases():
    for c in CORPUS:
        if "nograd" in c.tags:
            continue
        if any(_float_params(a) for a in c.args):
            yield c


def _copy(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _cotangent_for(out, rng):
    if isinstance(out, tuple):
        return tuple(_cotangent_for(o, rng) for o in out)
    if isinstance(out, np.ndarray):
        return rng.standard_normal(out.shape) if out.dtype.kind == "f" else np.zeros(out.shape)
    return float(rng.standard_normal())


def _contract(ct, out):
    if isinstance(out, tuple):
        return sum(_contract(c, o) for c, o in zip(ct, out))
    if hasattr(out, "dtype") and getattr(out.dtype, "is_floating_point", True) is False:
        return 0.0
    if isinstance(out, (bool, int)) or (isinstance(out, np.ndarray) and out.dtype.kind != "f"):
        return 0.0
    return (ct * out).sum() if hasattr(out, "shape") and out.shape else ct * out


def _adjoin_grads(case, args, wrt):
    out = case.fn(*_copy(args))
    if isinstance(out, float):
        g = adjoin.grad(case.fn, wrt=tuple(wrt))(*_copy(args))
        return list(g), None
    rng = np.random.default_rng(0)
    ct = _cotangent_for(out, rng)
    _, pullback = adjoin.vjp(case.fn, *_copy(args))
    grads = pullback(ct)
    return [grads[i] for i in wrt], ct


def _assert_close(got, want, rtol, atol, what):
    for k, (g, w) in enumerate(zip(got, want)):
        assert np.shape(g) == np.shape(w), f"{what}: gradient {k} has shape {np.shape(g)}"
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol,
                                   err_msg=f"{what}: gradient {k} differs")


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: c.name)
def test_gradient_matches_finite_differences(case):
    for args in case.args:
        wrt = _float_params(args)
        if not wrt:
            continue
        got, ct = _adjoin_grads(case, args, wrt)
        reduce = None if ct is None else (lambda out: _contract(ct, out))
        want = numeric_grad(case.fn, _copy(args), wrt, cotangent=reduce)
        _assert_close(got, want, 1e-5, 1e-6, f"{case.name}{args}")


@pytest.mark.parametrize("case", [c for c in _cases() if "torch" in c.tags],
                         ids=lambda c: c.name)
def test_gradient_matches_torch(case):
    for args in case.args:
        wrt = _float_params(args)
        if not wrt:
            continue
        got, ct = _adjoin_grads(case, args, wrt)
        reduce = None if ct is None else (lambda out: _contract(ct, out))
        want = torch_grad(case.fn, _copy(args), wrt, cotangent=reduce)
        _assert_close(got, want, 1e-10, 1e-12, f"{case.name}{args}")
