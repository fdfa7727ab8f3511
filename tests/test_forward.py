"""Forward mode and higher order over the whole corpus.

For every corpus function with float arguments, at every listed input:
  * jvp along a random direction equals the central difference along it;
  * for scalar outputs, the Hessian (forward over reverse) equals central
    differences of the gradient, and hvp equals the Hessian times a vector;
  * for array or tuple outputs, the Jacobian by forward mode equals the one by
    reverse mode and central differences.
"""
import numpy as np
import pytest

import adjoin

from corpus import CORPUS

EPS = 1e-6


def _float_params(args):
    return [i for i, a in enumerate(args)
            if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")]


def _cases():
    return [c for c in CORPUS if "nograd" not in c.tags and any(_float_params(a) for a in c.args)]


def _copy(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _direction(args, wrt, rng):
    return [(rng.standard_normal(np.shape(a)) if isinstance(a, np.ndarray)
             else float(rng.standard_normal())) if i in wrt else None
            for i, a in enumerate(args)]


def _shift(args, v, t):
    return [a + t * d if d is not None else (a.copy() if isinstance(a, np.ndarray) else a)
            for a, d in zip(args, v)]


def _flat(x, like=None):
    """The float parts of an output, flattened (tangents of int/bool parts are None)."""
    like = x if like is None else like
    if isinstance(like, tuple):
        parts = [_flat(e, l) for e, l in zip(x, like)]
        return np.concatenate(parts) if parts else np.zeros(0)
    if isinstance(like, (bool, int, np.bool_, np.integer)) or \
            (isinstance(like, np.ndarray) and like.dtype.kind != "f"):
        return np.zeros(0)
    return np.ravel(np.asarray(x, dtype=np.float64))


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c.name)
def test_jvp_matches_directional_difference(case):
    rng = np.random.default_rng(3)
    for args in case.args:
        wrt = _float_params(args)
        if not wrt:
            continue
        v = _direction(args, wrt, rng)
        out, dot = adjoin.jvp(case.fn, _copy(args), v)
        ref = case.fn(*_copy(args))
        eps = EPS * max([1.0] + [float(np.max(np.abs(args[i]), initial=0.0)) for i in wrt])
        hi = case.fn(*_shift(args, v, eps))
        lo = case.fn(*_shift(args, v, -eps))
        want = (_flat(hi, ref) - _flat(lo, ref)) / (2 * eps)
        np.testing.assert_allclose(_flat(dot, ref), want, rtol=1e-5, atol=1e-6,
                                   err_msg=f"{case.name}{args}")
        np.testing.assert_allclose(_flat(out, ref), _flat(ref), rtol=1e-12, atol=1e-12)


def _scalar_cases():
    out = []
    for c in _cases():
        args = c.args[0]
        if _float_params(args) and isinstance(c.fn(*_copy(args)), float):
            out.append(c)
    return out


@pytest.mark.parametrize("case", _scalar_cases(), ids=lambda c: c.name)
def test_hessian_matches_differences_of_the_gradient(case):
    for args in case.args:
        wrt = tuple(_float_params(args))
        if not wrt or not isinstance(case.fn(*_copy(args)), float):
            continue
        grad = adjoin.grad(case.fn, wrt=wrt)
        hess = adjoin.hessian(case.fn, wrt=wrt)(*_copy(args))
        for j, idx in enumerate(wrt):
            for k in np.ndindex(np.shape(args[idx])):
                v = [None] * len(args)
                v[idx] = np.zeros(np.shape(args[idx])) if np.ndim(args[idx]) else 1.0
                if np.ndim(args[idx]):
                    v[idx][k] = 1.0
                hi = grad(*_shift(args, v, 1e-5))
                lo = grad(*_shift(args, v, -1e-5))
                for i in range(len(wrt)):
                    want = (np.asarray(hi[i]) - np.asarray(lo[i])) / 2e-5
                    got = np.asarray(hess[i][j])[(Ellipsis,) + k] if k else hess[i][j]
                    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5,
                                               err_msg=f"{case.name}{args} H[{i}][{j}]{k}")


def _vector_cases():
    out = []
    for c in _cases():
        args = c.args[0]
        res = c.fn(*_copy(args))
        if _float_params(args) and not isinstance(res, float) and \
                all(isinstance(r, (float, np.ndarray)) for r in
                    (res if isinstance(res, tuple) else (res,))):
            out.append(c)
    return out


@pytest.mark.parametrize("case", _vector_cases(), ids=lambda c: c.name)
def test_jacobian_forward_equals_reverse_and_differences(case):
    for args in case.args:
        wrt = tuple(_float_params(args))
        res = case.fn(*_copy(args))
        if not wrt or isinstance(res, float):
            continue
        fwd = adjoin.jacobian(case.fn, wrt=wrt, mode="fwd")(*_copy(args))
        rev = adjoin.jacobian(case.fn, wrt=wrt, mode="rev")(*_copy(args))
        np.testing.assert_allclose(_flat(fwd), _flat(rev), rtol=1e-10, atol=1e-12)
        rng = np.random.default_rng(5)
        v = _direction(args, wrt, rng)
        _, dot = adjoin.jvp(case.fn, _copy(args), v)
        leaves = fwd if isinstance(res, tuple) else (fwd,)
        for o, (leaf, d) in enumerate(zip(leaves, dot if isinstance(res, tuple) else (dot,))):
            if d is None:  # an int or bool output: its Jacobian block is zero
                assert all(not np.any(b) for b in leaf)
                continue
            jv = sum(np.tensordot(np.asarray(b), np.asarray(v[i]),
                                  axes=np.ndim(args[i])) for b, i in zip(leaf, wrt))
            np.testing.assert_allclose(np.ravel(jv), np.ravel(d), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("case", _scalar_cases(), ids=lambda c: c.name)
def test_hessian_matches_torch(case):
    """Where torch runs the same code, torch.autograd.functional.hessian agrees."""
    pytest.importorskip("torch")
    from adjoin.testing import torch_hessian
    for args in case.args:
        wrt = tuple(_float_params(args))
        if not wrt or not isinstance(case.fn(*_copy(args)), float):
            continue
        try:
            want = torch_hessian(case.fn, _copy(args), wrt)
        except (AttributeError, TypeError, RuntimeError, IndexError, ValueError) as e:
            pytest.skip(f"torch cannot run this code: {type(e).__name__}")
        got = adjoin.hessian(case.fn, wrt=wrt)(*_copy(args))
        for i in range(len(wrt)):
            for j in range(len(wrt)):
                np.testing.assert_allclose(np.asarray(got[i][j], dtype=np.float64),
                                           np.reshape(want[i][j], np.shape(got[i][j])),
                                           rtol=1e-9, atol=1e-10,
                                           err_msg=f"{case.name}{args} H[{i}][{j}]")
