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


TORCH_FAILURES = (AttributeError, TypeError, RuntimeError, IndexError, ValueError)


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: c.name)
def test_gradient_matches_torch(case):
    """Where torch can run the same code (adjoin.testing.torch_eager), its autograd agrees."""
    pytest.importorskip("torch")
    compared = 0
    for args in case.args:
        wrt = _float_params(args)
        if not wrt:
            continue
        got, ct = _adjoin_grads(case, args, wrt)
        reduce = None if ct is None else (lambda out: _contract_torch(ct, out))
        try:
            want = torch_grad(case.fn, _copy(args), wrt, cotangent=reduce)
        except TORCH_FAILURES as e:
            pytest.skip(f"torch cannot run this code: {type(e).__name__}: {e}")
        fd = numeric_grad(case.fn, _copy(args), wrt,
                          cotangent=None if ct is None else (lambda out: _contract(ct, out)))
        if not all(np.allclose(t, f, rtol=1e-4, atol=1e-5) for t, f in zip(want, fd)):
            # e.g. a tensor method with another meaning (Tensor.min(axis=...))
            pytest.skip("the same code means something else under torch")
        _assert_close(got, want, 1e-10, 1e-12, f"{case.name}{args}")
        compared += 1
    assert compared


def _contract_torch(ct, out):
    import torch
    if isinstance(out, tuple):
        return sum(_contract_torch(c, o) for c, o in zip(ct, out))
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        return 0.0
    return (torch.as_tensor(ct, dtype=torch.float64) * out).sum()


def test_torch_reference_covers_most_of_the_corpus():
    """The torch comparison must not quietly skip: most cases run under torch."""
    torch = pytest.importorskip("torch")
    from adjoin.testing import torch_eager
    cases = list(_cases())
    ok = 0
    for case in cases:
        args = case.args[0]
        targs = [torch.tensor(a) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                 for a in _copy(args)]
        try:
            torch_eager(case.fn)(*targs)
            ok += 1
        except TORCH_FAILURES:
            pass
    assert ok >= 0.6 * len(cases), f"torch runs only {ok} of {len(cases)} corpus functions"
