"""In-place writes whose written value shares the target's memory, and allocations with
int, tuple and `x.shape` shapes.

Adjoint accumulations run in place on the torch backend (`a_bar += b`); `b` may be a view
of `a_bar` (`A + A.T` gives `A_bar += sum_to(g, A.T).T` with `A_bar` being `g`), which
torch refuses and which an element-by-element write gets wrong (llvm read what it had
overwritten in `a[1:] = a[:-1]`). Gradients are checked against finite differences and
the Python backend, jvp against the gradient, the Hessian against the Python backend's;
primal values against CPython on every backend."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def symmetric(A):
    return np.sum(np.sin(A + A.T))


def permuted(T):
    return np.sum(np.sin(T + np.transpose(T, (1, 0, 2)) * 2.0))


def reshaped(x):
    return np.sum(np.sin(x.reshape(2, 2) + np.reshape(x, (2, 2)).T))


def raveled(A):
    return np.sum(np.cos(A.ravel() + np.ravel(A)) * np.arange(4.0))


def new_axes(x):
    return np.sum(np.sin(np.expand_dims(x, 0) + np.expand_dims(x, 1)) + x[None, :] * x[:, None])


def shifted(x):
    return np.sum(np.sin(x[1:] + x[:-1])) + np.sum(np.cos(x[::-1] + x))


def doubled(x):
    return np.sum(np.sin(x + x)) + np.sum(x * x)


def broadcast_rows(A):
    return np.sum(np.sin(A + A[0])) + np.sum(np.cos(A * A[:, 1:2]))


def looped(A, n):
    s = 0.0
    for i in range(n):
        s = s + np.sum(np.sin(A + A.T) * (i + 1.0))
    return s


def element_then_accumulate(x, a, b):
    """An element of an adjoint (`s_bar = P_bar[0]`) is read before another adjoint that
    is the same tensor (`R_bar`, through sum_to) is accumulated in place."""
    R = x * 3.0
    s = a * b
    v = R * x
    P = np.array([s, b])
    w = P + R
    return np.sum(w * w) + np.sum(v)


RNG = np.random.default_rng(7)
A3, T, X4 = RNG.standard_normal((3, 3)), RNG.standard_normal((2, 2, 3)), RNG.standard_normal(4)
CASES = [(symmetric, (A3,), (0,)), (permuted, (T,), (0,)), (reshaped, (X4,), (0,)),
         (raveled, (X4.reshape(2, 2),), (0,)), (new_axes, (X4,), (0,)),
         (shifted, (X4,), (0,)), (doubled, (X4,), (0,)), (broadcast_rows, (A3,), (0,)),
         (looped, (A3, 3), (0,)),
         (element_then_accumulate, (X4[:2], 0.5, 2.0), (0, 1, 2))]


def _backend(backend):
    if backend == "torch":
        pytest.importorskip("torch")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradients_where_an_adjoint_is_a_view_of_another(fn, args, wrt, backend):
    _backend(backend)
    f = adjoin.differentiable(fn, backend=backend)
    assert float(f(*args)) == pytest.approx(fn(*args), rel=1e-12)
    got = adjoin.grad(f, wrt=wrt)(*args)
    want = adjoin.grad(fn, wrt=wrt)(*args)
    for g, w, fd in zip(got, want, numeric_grad(fn, args, wrt)):
        np.testing.assert_allclose(np.asarray(g, dtype=float), w, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(g, dtype=float), fd, rtol=1e-6, atol=1e-7)
    tangents = [np.ones_like(a) if i in wrt else None for i, a in enumerate(args)]
    _, dot = adjoin.jvp(f, args, tangents)
    assert float(dot) == pytest.approx(sum(float(np.sum(g)) for g in got), rel=1e-9)


@pytest.mark.parametrize("fn, args", [(symmetric, (A3,)), (shifted, (X4,)),
                                      (new_axes, (X4,)), (permuted, (T,))],
                         ids=["symmetric", "shifted", "new_axes", "permuted"])
def test_hessians_on_torch_match_the_python_backend(fn, args):
    pytest.importorskip("torch")
    want = adjoin.hessian(fn)(*args)
    got = adjoin.hessian(adjoin.differentiable(fn, backend="torch"))(*args)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-10, atol=1e-12)


def test_gradients_agree_with_torch_autograd():
    torch = pytest.importorskip("torch")
    A = torch.tensor(A3, requires_grad=True)
    torch.sum(torch.sin(A + A.T)).backward()
    got = adjoin.grad(symmetric, backend="torch")(A3)
    np.testing.assert_allclose(got, A.grad.numpy(), rtol=1e-12)


# -- writes whose value reads the target ---------------------------------------------------


def shift_right(x):
    a = x * 2.0
    a[1:] = a[:-1]
    return np.sum(a * a)


def shift_left(x):
    a = x * 2.0
    a[:-1] = a[1:]
    return np.sum(a * a)


def write_transpose(A):
    a = A * 2.0
    a[:, :] = a.T
    return np.sum(a * A)


def write_reversed(x):
    a = x * 2.0
    a[:] = a[::-1]
    return np.sum(a * x)


def add_shifted(x):
    a = x * 2.0
    a[1:] += a[:-1]
    return np.sum(a * a)


def write_rows_in_loop(A, n):
    a = A * 1.5
    for _ in range(n):
        a[1:, :] = a[:-1, :] * 0.5
    return np.sum(a * A)


WRITES = [(shift_right, (X4,)), (shift_left, (X4,)), (write_transpose, (A3,)),
          (write_reversed, (X4,)), (add_shifted, (X4,)), (write_rows_in_loop, (A3, 2))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args", WRITES, ids=[c[0].__name__ for c in WRITES])
def test_writes_of_a_view_of_the_target_match_cpython(fn, args, backend):
    _backend(backend)
    f = adjoin.differentiable(fn, backend=backend)
    fresh = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    assert float(f(*fresh)) == pytest.approx(fn(*args), rel=1e-12)
    got = adjoin.grad(f)(*args)
    np.testing.assert_allclose(got, numeric_grad(fn, args, (0,))[0], rtol=1e-6, atol=1e-7)


# -- allocations -----------------------------------------------------------------------------


def full_int(x):
    return np.full(4, x) * np.full(4, 4.0)


def full_of_element(x):
    return np.full(3, x[1]) * x[0]


def int_arrays(n):
    return np.zeros(n, dtype=np.int64) + np.ones(n, dtype=int) + np.full(n, 2, dtype=np.int64)


def full_shapes(A, x, n):
    return (np.sum(np.full((2, 3), x)) + np.sum(np.full(A.shape, x) * A)
            + np.sum(np.full(A.shape[0], x)) + np.sum(np.full(n, x) ** 2)
            + np.sum(np.full((n, 2), 2.0) * x) + np.sum(full_int(x)))


def zeros_ones_empty(A, x, n):
    e = np.empty(3)
    e[:] = x
    f = np.empty(A.shape)
    f[:, :] = A * x
    return (np.sum(np.zeros(4) + x) + np.sum(np.ones(A.shape) * x) + np.sum(np.ones((n, 2)) * x)
            + np.sum(np.zeros(n) + x * x) + np.sum(e * e) + np.sum(f)
            + np.sum(np.zeros(A.shape[1])))


def likes(A, x):
    e = np.empty_like(A)
    e[:, :] = A
    return (np.sum(np.zeros_like(A) + np.ones_like(A) * x + np.full_like(A, x)
                   + np.full_like(A, 2.0) * A) + np.sum(e * x))


def ranges(A, x, n):
    return (np.sum(np.arange(n) * x) + np.sum(np.arange(1, 7, 2) * x)
            + np.sum(np.arange(3.0) * x) + np.sum(np.linspace(0.0, x, 5))
            + np.sum(np.linspace(0, 1, n) * x) + np.sum(np.arange(A.shape[0]) * A[:, 0]))


def from_element(x):
    return np.sum(full_of_element(x)) + np.sum(np.full((2, 2), x[2]) * x[:2])


ARRAYS = [(full_int, (1.5,)), (full_of_element, (X4,)), (int_arrays, (4,))]
ALLOCS = [(full_shapes, (A3[:2], 1.5, 3), (0, 1)), (zeros_ones_empty, (A3[:2], 1.5, 3), (0, 1)),
          (likes, (A3[:2], 1.5), (0, 1)), (ranges, (A3, 1.5, 5), (0, 1)),
          (from_element, (X4,), (0,))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args", ARRAYS, ids=[c[0].__name__ for c in ARRAYS])
def test_allocated_arrays_match_cpython(fn, args, backend):
    _backend(backend)
    want = fn(*args)
    got = adjoin.differentiable(fn, backend=backend)(*args)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", ALLOCS, ids=[c[0].__name__ for c in ALLOCS])
def test_allocations_differentiate(fn, args, wrt, backend):
    _backend(backend)
    f = adjoin.differentiable(fn, backend=backend)
    assert float(f(*args)) == pytest.approx(fn(*args), rel=1e-12)
    got = adjoin.grad(f, wrt=wrt)(*args)
    for g, fd in zip(got, numeric_grad(fn, args, wrt)):
        np.testing.assert_allclose(np.asarray(g, dtype=float), fd, rtol=1e-6, atol=1e-7)
    tangents = [np.ones_like(a) if i in wrt else None for i, a in enumerate(args)]
    _, dot = adjoin.jvp(f, args, tangents)
    assert float(dot) == pytest.approx(sum(float(np.sum(g)) for g in got), rel=1e-9)
    if backend == "torch":
        h = adjoin.hessian(f, wrt=wrt[-1])(*args)
        np.testing.assert_allclose(np.asarray(h, dtype=float),
                                   np.asarray(adjoin.hessian(fn, wrt=wrt[-1])(*args), dtype=float),
                                   rtol=1e-10, atol=1e-12)


def packed(a, x):
    return np.array([a, a * a, x[0]])


def test_a_pullback_leaves_the_callers_cotangent_tensor_unchanged():
    """`a_bar` is an element of the cotangent (`g[0]`) before `g[1]`'s part is added."""
    torch = pytest.importorskip("torch")
    x = torch.tensor([1.0, 2.0], dtype=torch.float64)
    _, pullback = adjoin.vjp(adjoin.differentiable(packed, backend="torch"), 3.0, x)
    ct = torch.tensor([1.0, 10.0, 100.0], dtype=torch.float64)
    a_bar, x_bar = pullback(ct)
    assert float(a_bar) == 61.0 and x_bar.tolist() == [100.0, 0.0]
    assert ct.tolist() == [1.0, 10.0, 100.0]


# -- views of arrays that operators made ----------------------------------------------------


def slice_of_product(x):
    a = x * 2.0
    b = a[1:]
    a[1] = 5.0
    return np.sum(b * b)


def reshape_of_product(x):
    a = x * 2.0
    b = a.reshape(2, 2)
    a[0] = 5.0
    return np.sum(b * b)


def squeezed_view(x):
    c = np.expand_dims(x * 2.0, 0)
    b = np.squeeze(c, 0)
    c[0, 0] = 5.0
    return np.sum(b * b)


def slice_of_product_not_read(x):
    a = x * 2.0
    b = a[1:]
    b[0] = 5.0
    return np.sum(b * b)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [slice_of_product, reshape_of_product, squeezed_view],
                         ids=lambda f: f.__name__)
def test_a_write_changing_a_view_of_a_computed_array_is_refused(fn, backend):
    """CPython's view sees the write, adjoin's value would not: compiling it was silently
    wrong (an operator's array had no origin, so no view of it was seen to share it)."""
    _backend(backend)
    with pytest.raises(adjoin.CompileError, match="share memory"):
        adjoin.differentiable(fn, backend=backend)(X4.copy())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_write_through_a_view_whose_base_is_dead_matches_cpython(backend):
    _backend(backend)
    got = adjoin.differentiable(slice_of_product_not_read, backend=backend)(X4.copy())
    assert float(got) == pytest.approx(slice_of_product_not_read(X4.copy()), rel=1e-12)
