"""Tuple axes on reductions (sum, mean, max, min, prod, var, std, any, all and the
methods, with keepdims), np.linalg.norm with ord/axis/keepdims, np.stack(axis=k) and
transposes with an axes permutation, on every backend: values and dtypes against NumPy,
gradients against central differences and torch, forward mode and Hessians."""
import numpy as np
import pytest

import adjoin
from numpy_checks import BACKENDS, check_all, same_result


def tuple_axes(T):
    return (np.sum(np.sum(T, axis=(0, 2)) ** 2) + np.sum(np.mean(T, axis=(1, 2), keepdims=True) * T)
            + np.sum(np.amax(T, axis=(0, 1))) + np.sum(np.min(T, axis=(2, 0)) ** 2)
            + np.sum(np.prod(T, axis=(0, -1))) + np.sum(np.var(T, axis=(0, 1)))
            + np.sum(np.std(T, axis=(1, 2), ddof=1)) + np.sum(T.sum(axis=(0, 1), keepdims=True) * T)
            + T.max(axis=(0, 1, 2)) + np.sum(T.mean((2,)) ** 2) + np.sum(T.prod(axis=(1, 2)) * 0.1))


def tuple_axes_torch(T):
    import torch

    def prod(x, dims):
        keep = [k for k in range(x.dim()) if k not in dims]
        return torch.prod(x.permute(*keep, *dims).reshape(*[x.shape[k] for k in keep], -1), -1)
    return (torch.sum(torch.sum(T, dim=(0, 2)) ** 2)
            + torch.sum(torch.mean(T, dim=(1, 2), keepdim=True) * T)
            + torch.sum(torch.amax(T, dim=(0, 1))) + torch.sum(torch.amin(T, dim=(2, 0)) ** 2)
            + torch.sum(prod(T, [0, 2])) + torch.sum(torch.var(T, dim=(0, 1), correction=0))
            + torch.sum(torch.std(T, dim=(1, 2), correction=1))
            + torch.sum(T.sum(dim=(0, 1), keepdim=True) * T) + T.amax()
            + torch.sum(T.mean(2) ** 2) + torch.sum(prod(T, [1, 2]) * 0.1))


def norms(x, A, T):
    return (np.linalg.norm(x) + np.linalg.norm(x, 1) + np.linalg.norm(x, np.inf)
            + np.linalg.norm(x, ord=2) + np.linalg.norm(x, -np.inf) + np.linalg.norm(A)
            + np.linalg.norm(A, "fro") + np.sum(np.linalg.norm(A, axis=1) ** 2)
            + np.sum(np.linalg.norm(A, ord=1, axis=0, keepdims=True) * A)
            + np.linalg.norm(A, 1) + np.linalg.norm(A, np.inf) + np.linalg.norm(A, -1)
            + np.sum(np.linalg.norm(T, axis=(1, 2))) + np.linalg.norm(T)
            + np.sum(np.linalg.norm(T, ord=np.inf, axis=(2, 0), keepdims=True) * T)
            + np.sum(np.linalg.norm(T, axis=-1, keepdims=True) * T))


def norms_torch(x, A, T):
    import torch
    vn, mn = torch.linalg.vector_norm, torch.linalg.matrix_norm
    inf = float("inf")
    return (vn(x) + vn(x, 1) + vn(x, inf) + vn(x, 2) + vn(x, -inf) + vn(A) + mn(A)
            + torch.sum(vn(A, dim=1) ** 2) + torch.sum(vn(A, 1, dim=0, keepdim=True) * A)
            + mn(A, 1) + mn(A, inf) + mn(A, -1) + torch.sum(mn(T, dim=(1, 2))) + vn(T)
            + torch.sum(mn(T, inf, dim=(2, 0), keepdim=True) * T)
            + torch.sum(vn(T, dim=-1, keepdim=True) * T))


def stacks(x, A):
    s = np.stack([A, A * 2.0, A ** 2], axis=1)
    return (np.sum(s * np.arange(12.0).reshape(3, 4)) + np.sum(np.stack((x, x * x), axis=-1)[:, 1])
            + np.sum(np.stack([A, -A], axis=2) ** 3) + np.sum(np.transpose(s, (2, 0, 1))[0] ** 2)
            + np.sum(s.transpose(1, 2, 0)[1] * 3.0) + np.sum(np.stack([x, x], 0)[1] ** 2))


def stacks_torch(x, A):
    import torch
    s = torch.stack([A, A * 2.0, A ** 2], dim=1)
    return (torch.sum(s * torch.arange(12.0, dtype=torch.float64).reshape(3, 4))
            + torch.sum(torch.stack((x, x * x), dim=-1)[:, 1])
            + torch.sum(torch.stack([A, -A], dim=2) ** 3)
            + torch.sum(s.permute(2, 0, 1)[0] ** 2) + torch.sum(s.permute(1, 2, 0)[1] * 3.0)
            + torch.sum(torch.stack([x, x], 0)[1] ** 2))


RNG = np.random.default_rng(13)
T = RNG.uniform(0.5, 1.5, (3, 4, 5)) * RNG.choice([-1.0, 1.0], (3, 4, 5))
X, A = RNG.standard_normal(4), RNG.standard_normal((3, 4))
CASES = [(tuple_axes, tuple_axes_torch, (T,), (0,)), (norms, norms_torch, (X, A, T), (0, 1, 2)),
         (stacks, stacks_torch, (X, A), (0, 1))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, tfn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_axis_forms_in_every_mode(fn, tfn, args, wrt, backend):
    check_all(fn, tfn, args, wrt, backend)


def reductions(I, B):
    return (np.sum(I, axis=(0, 2)), np.mean(I, axis=(1, 2), keepdims=True), I.max(axis=(0, 1)),
            np.any(B, axis=(0, 1)), np.all(B, axis=(2, 1)), np.prod(I, axis=(0, 1)),
            np.linalg.norm(I, axis=(0, 1)), np.stack([I, I], axis=3), np.var(I, axis=(0, 2)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_shapes_and_dtypes_are_numpys(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    I = np.arange(24).reshape(2, 3, 4) - 5
    f = adjoin.differentiable(reductions, backend=backend)
    for got, want in zip(f(I, I > 3), reductions(I, I > 3)):
        same_result(got, want, backend=backend)


def origin(x, A):
    return np.linalg.norm(x) + np.sum(np.linalg.norm(A, axis=1)) + np.linalg.norm(A, "fro")


@pytest.mark.parametrize("backend", BACKENDS)
def test_norms_have_derivative_zero_at_the_origin(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    A0 = np.array([[0.0, 0.0], [3.0, 4.0]])
    gx, gA = adjoin.grad(origin, wrt=(0, 1), backend=backend)(np.zeros(3), A0)
    np.testing.assert_array_equal(gx, np.zeros(3))
    np.testing.assert_allclose(gA, [[0.0, 0.0], [0.6 + 0.6, 0.8 + 0.8]], rtol=1e-14)


def duplicate(T):
    return np.sum(T, axis=(0, 0))


def spectral(A):
    return np.linalg.norm(A, 2)


def p_norm(x):
    return np.linalg.norm(x, 3)


def arg_tuple(T):
    return np.argmax(T, axis=(0, 1))


@pytest.mark.parametrize("fn, arg, match", [
    (duplicate, T, "duplicate value in 'axis'"), (spectral, A, "singular values"),
    (p_norm, X, "ord=3"), (arg_tuple, T, "constant integer")])
def test_refused_forms_name_the_construct(fn, arg, match):
    with pytest.raises(adjoin.CompileError, match=match):
        adjoin.differentiable(fn)(arg)
