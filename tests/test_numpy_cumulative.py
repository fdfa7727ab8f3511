"""np.cumsum and np.cumprod (functions and methods, axis None or an int) on every backend:
values and dtypes against NumPy, gradients against central differences and torch,
forward mode and Hessians; cumprod's derivatives exact where x has zeros."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad
from numpy_checks import BACKENDS, check_all, same_result


def cumulative(x, A):
    return (np.sum(np.cumsum(x) * x) + np.sum(np.cumprod(A, axis=1) ** 2)
            + np.sum(A.cumsum(0) * A) + np.sum(np.cumprod(A) * 0.5)
            + np.sum(x.cumprod() * np.arange(4.0)) + np.sum(np.cumsum(A, axis=-1)[:, 1]))


def cumulative_torch(x, A):
    import torch
    return (torch.sum(torch.cumsum(x, 0) * x) + torch.sum(torch.cumprod(A, 1) ** 2)
            + torch.sum(torch.cumsum(A, 0) * A) + torch.sum(torch.cumprod(A.reshape(-1), 0) * 0.5)
            + torch.sum(torch.cumprod(x, 0) * torch.arange(4.0, dtype=torch.float64))
            + torch.sum(torch.cumsum(A, -1)[:, 1]))


def of_vector(x):
    return np.sum(np.cumprod(x) * np.arange(1.0, 7.0)) + np.sum(np.cumsum(x) ** 3)


def of_vector_torch(x):
    import torch
    return (torch.sum(torch.cumprod(x, 0) * torch.arange(1.0, 7.0, dtype=torch.float64))
            + torch.sum(torch.cumsum(x, 0) ** 3))


RNG = np.random.default_rng(11)
X, A = RNG.uniform(0.5, 1.5, 4), RNG.standard_normal((3, 4))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumsum_and_cumprod_in_every_mode(backend):
    check_all(cumulative, cumulative_torch, (X, A), (0, 1), backend)


ZEROS = [np.array([0.7, 0.0, 1.3, -0.4, 0.9, 1.1]), np.array([0.7, 0.0, 1.3, 0.0, 0.9, 1.1]),
         np.array([0.0, 0.0, 1.3, 0.0, 0.9, 0.0]), np.array([0.5, 1.2, -0.3, 0.8, 0.9, 0.0])]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("x", ZEROS, ids=["one zero", "two zeros", "four zeros", "last"])
def test_cumprod_derivatives_are_exact_at_zeros(x, backend):
    """Gradients against torch (whose cumprod handles zeros) and central differences
    (exact: cumprod is multilinear); the Hessian against differences of the gradient."""
    check_all(of_vector, of_vector_torch, (x,), (0,), backend, hessian=False)
    h = adjoin.hessian(of_vector, backend=backend)(x)
    grad = adjoin.grad(of_vector)
    want = np.stack([numeric_grad(lambda z: grad(z)[k], (x,), (0,))[0] for k in range(6)])
    assert np.all(np.isfinite(h))
    np.testing.assert_allclose(h, want, rtol=1e-6, atol=1e-6)


def cum_int(i, b):
    return np.cumsum(i) + np.cumprod(i, axis=0) + np.cumsum(b, axis=0)


def cum_f32(x):
    return np.cumprod(x), x.cumsum()


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumulative_dtypes_are_numpys(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    i, b = np.arange(1, 5), np.array([True, False, True, True])
    same_result(adjoin.differentiable(cum_int, backend=backend)(i, b), cum_int(i, b),
                backend=backend)
    x = np.linspace(0.5, 1.5, 5).astype(np.float32)
    for got, want in zip(adjoin.differentiable(cum_f32, backend=backend)(x), cum_f32(x)):
        same_result(got, want, rtol=1e-6, backend=backend)


def cum_matrix(A):
    return np.cumsum(A), np.cumprod(A, axis=0), A.cumsum(axis=1), np.cumsum(2.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cumulative_shapes(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    for got, want in zip(adjoin.differentiable(cum_matrix, backend=backend)(A), cum_matrix(A)):
        same_result(got, want, backend=backend)
    empty = np.zeros((0, 3))
    for got, want in zip(adjoin.differentiable(cum_matrix, backend=backend)(empty),
                         cum_matrix(empty)):
        same_result(got, want, backend=backend)


def bad_axis(A):
    return np.cumsum(A, axis=2)


def test_an_axis_out_of_range_is_refused():
    with pytest.raises(adjoin.CompileError, match="axis 2 is out of bounds"):
        adjoin.differentiable(bad_axis)(A)
