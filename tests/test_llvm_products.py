"""Matrix-vector products and rank-one adjoint updates on the llvm backend.

Products run 16 or 4 rows at a time where rows or columns have unit stride
(backends/llvm/matvec.py), and `T[idx] += np.outer(a, b)` is an in-place update
where no operand shares T's memory (backends/llvm/rank1.py). Both must give the
values of the ordered sums they replace, in every layout and size (tails of rows
and columns, empty and one-row matrices, strided and reversed views), and the
gradients of per-point product loops (the gmm pattern) must equal the Python
backend's and finite differences on every backend, in reverse and forward mode.
"""
import numpy as np
import pytest

import adjoin
from adjoin.backends.llvm import compile_entries
from adjoin.ir import parse_module
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]


def matvec(A, v):
    return A @ v


def _ordered(A, v):
    """Each row's sum over k in ascending order from 0.0, in Python floats."""
    out = np.zeros(A.shape[0])
    for i in range(A.shape[0]):
        s = 0.0
        for k in range(A.shape[1]):
            s += float(A[i, k]) * float(v[k])
        out[i] = s
    return out


def _layouts(A):
    m, n = A.shape
    wide = np.zeros((2 * m + 1, 2 * n + 1))
    wide[1::2, 1::2] = A
    yield "c", A
    yield "fortran", np.asfortranarray(A)
    yield "strided", wide[1::2, 1::2]
    yield "reversed", np.ascontiguousarray(A[::-1, ::-1])[::-1, ::-1]
    yield "transposed", np.ascontiguousarray(A.T).T


@pytest.mark.parametrize("m, n", [(0, 3), (3, 0), (1, 1), (3, 5), (4, 4), (5, 7), (16, 3),
                                  (17, 9), (20, 20), (33, 64), (64, 64)])
def test_matrix_vector_products_equal_ordered_sums_in_every_layout(m, n):
    rng = np.random.default_rng(m * 100 + n)
    A = rng.standard_normal((m, n))
    f = adjoin.differentiable(matvec, backend="llvm")
    v = np.arange(1.0, n + 1) / 7
    want = _ordered(A, v)
    for name, layout in _layouts(A):
        for vec in (v, np.repeat(v, 2)[::2]):
            got = f(layout, vec)
            assert got.shape == (m,) and got.dtype == np.float64
            assert np.array_equal(got, want), name  # bit for bit: the same sums
    np.testing.assert_allclose(f(A, v), A @ v, rtol=1e-12, atol=1e-12)


def test_other_dtypes_take_the_general_loops():
    A = np.arange(20, dtype=np.int64).reshape(4, 5)
    v = np.arange(5, dtype=np.int64)
    f = adjoin.differentiable(matvec, backend="llvm")
    assert np.array_equal(f(A, v), A @ v) and f(A, v).dtype == np.int64
    got = f(A.astype(np.float32), v.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, A @ v, rtol=1e-6)


def mixture(Q, M, X):
    """The gmm pattern: a product per point and component, squared and summed."""
    total = 0.0
    for i in range(X.shape[0]):
        for k in range(Q.shape[0]):
            y = Q[k] @ (X[i] - M[k])
            total += np.dot(y, y) * (k + 1.0)
    return total


def _mixture_args(d, k, n=3, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((k, d, d)), rng.standard_normal((k, d)),
            rng.standard_normal((n, d)))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("d, k", [(2, 2), (5, 3)])
def test_per_point_products_differentiate_on_every_backend(backend, d, k):
    if backend == "torch":
        pytest.importorskip("torch")
    args = _mixture_args(d, k)
    f = adjoin.differentiable(mixture, backend=backend)
    assert float(f(*args)) == pytest.approx(mixture(*args), rel=1e-12)
    grads = adjoin.grad(f, wrt=(0, 1, 2))(*args)
    for g, fd in zip(grads, numeric_grad(mixture, args, (0, 1, 2))):
        np.testing.assert_allclose(np.asarray(g, dtype=float), fd, rtol=1e-6, atol=1e-6)
    tangents = [np.full(a.shape, 0.1) for a in args]
    _, t = adjoin.jvp(f, args, tangents)
    assert float(t) == pytest.approx(sum(float(np.sum(np.asarray(g, dtype=float) * 0.1))
                                         for g in grads), rel=1e-9)
    if d == 2:
        h = np.asarray(adjoin.hessian(f, wrt=1)(*args), dtype=float)
        grad_m = adjoin.grad(mixture, wrt=1)
        for idx in np.ndindex(args[1].shape):
            e = np.zeros(args[1].shape)
            e[idx] = 1e-6
            row = (grad_m(args[0], args[1] + e, args[2]) -
                   grad_m(args[0], args[1] - e, args[2])) / 2e-6
            np.testing.assert_allclose(h[idx], row, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", ["c", "fortran", "strided", "empty", "no_points"])
def test_per_point_product_gradients_match_the_python_backend(layout):
    Q, M, X = _mixture_args(6, 3, n=4, seed=1)
    if layout == "fortran":
        Q = np.asfortranarray(Q)
    elif layout == "strided":
        wide = np.zeros((3, 12, 12))
        wide[:, ::2, ::2] = Q
        Q = wide[:, ::2, ::2]
    elif layout == "empty":
        Q, M, X = np.zeros((3, 0, 0)), np.zeros((3, 0)), np.zeros((4, 0))
    elif layout == "no_points":
        X = np.zeros((0, 6))
    native = adjoin.grad(mixture, wrt=(0, 1, 2), backend="llvm")(Q, M, X)
    reference = adjoin.grad(mixture, wrt=(0, 1, 2))(Q, M, X)
    for g, r in zip(native, reference):
        assert g.shape == r.shape
        np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


# -- rank-one updates that must not be done in place (hand-written IR) ----------------

ALIASED = """
func @aliased(%T: array<f64, 2>, %a: array<f64, 1>) -> array<f64, 2> {
  %c = copy %T : array<f64, 2>
  %0 = const 0 : i64
  %r = getitem %c[%0] : array<f64, 1>
  %o = outer %a, %r : array<f64, 2>
  %u = addat %c[:, :], %o : array<f64, 2>
  return %u
}

func @written_between(%T: array<f64, 2>, %a: array<f64, 1>, %b: array<f64, 1>) -> tuple<array<f64, 2>, array<f64, 1>> {
  %c = copy %T : array<f64, 2>
  %r = copy %a : array<f64, 1>
  %o = outer %r, %b : array<f64, 2>
  %0 = const 0 : i64
  %x = const 100.0 : f64
  %r2 = setitem %r[%0], %x : array<f64, 1>
  %u = addat %c[:, :], %o : array<f64, 2>
  %t = tuple %u, %r2 : tuple<array<f64, 2>, array<f64, 1>>
  return %t
}

func @broadcast(%T: array<f64, 2>, %a: array<f64, 1>, %b: array<f64, 1>) -> array<f64, 2> {
  %c = copy %T : array<f64, 2>
  %o = outer %a, %b : array<f64, 2>
  %u = addat %c[:, :], %o : array<f64, 2>
  return %u
}
"""


@pytest.fixture(scope="module")
def hand_written():
    names = ["aliased", "written_between", "broadcast"]
    return dict(zip(names, compile_entries(parse_module(ALIASED), names)))


def test_updates_reading_their_target_are_not_done_in_place(hand_written):
    T = np.arange(9.0).reshape(3, 3)
    a = np.array([1.0, 2.0, 3.0])
    np.testing.assert_array_equal(hand_written["aliased"](T, a), T + np.outer(a, T[0]))
    b = np.array([0.5, -1.0, 2.0])
    u, r = hand_written["written_between"](T, a, b)
    np.testing.assert_array_equal(u, T + np.outer(a, b))
    np.testing.assert_array_equal(r, [100.0, 2.0, 3.0])


def test_updates_broadcast_and_refuse_as_numpy_does(hand_written):
    T = np.arange(12.0).reshape(3, 4)
    for a, b in [(np.array([2.0]), np.arange(4.0)), (np.arange(3.0), np.array([1.5])),
                 (np.arange(3.0), np.arange(4.0))]:
        np.testing.assert_array_equal(hand_written["broadcast"](T, a, b), T + np.outer(a, b))
    np.testing.assert_array_equal(hand_written["broadcast"](np.zeros((0, 4)), np.zeros(0),
                                                            np.arange(4.0)), np.zeros((0, 4)))
    with pytest.raises(ValueError):
        hand_written["broadcast"](T, np.arange(2.0), np.arange(4.0))


@pytest.mark.parametrize("make, size", [("make_gmm", (5, 3, 9)), ("make_gmm", (17, 4, 6)),
                                        ("make_ode", (9, 3)), ("make_lstm", (2, 5))])
def test_benchmark_workloads_match_the_python_backend(make, size):
    """The workloads as written by a user (benchmarks/workloads.py), with every path
    above in play: products with row tails, rank-one updates, per-iteration release,
    accumulation into the caller's adjoint."""
    from benchmarks import workloads
    fn, args, wrt = getattr(workloads, make)(*size)
    native = adjoin.differentiable(fn, backend="llvm")
    assert native(*args) == pytest.approx(fn(*args), rel=1e-12)
    got = adjoin.grad(fn, wrt=wrt, backend="llvm")(*args)
    want = adjoin.grad(fn, wrt=wrt)(*args)
    for g, r in zip(got, want):
        np.testing.assert_allclose(g, r, rtol=1e-11, atol=1e-13)
