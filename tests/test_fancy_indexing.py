"""NumPy advanced indexing and sorting (index arrays, masks, writes, np.add.at, np.take,
np.take_along_axis, np.sort, np.argsort): values, dtypes and errors against CPython on
every backend; gradients against finite differences and torch autograd; forward mode
and Hessians; NumPy's treatment of repeated indices."""
import numpy as np
import pytest

import adjoin
from adjoin.errors import TypingError, UnsupportedSyntax
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]
RNG = np.random.default_rng(11)
V = RNG.standard_normal(6)
M = RNG.standard_normal((4, 5))
IDX = np.array([0, 3, 3, -1, 2])          # repeated and negative
ROWS, COLS = np.array([0, 2, 3, 3]), np.array([4, 0, -2, 1])


def _backend(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    return backend


def _np(v):
    if hasattr(v, "detach"):
        return v.detach().cpu().numpy()
    if isinstance(v, tuple):
        return tuple(_np(x) for x in v)
    return v


def _same(got, want):
    got = _np(got)
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    want, got = np.asarray(want), np.asarray(got)
    assert got.shape == want.shape and got.dtype == want.dtype, (got, want)
    np.testing.assert_array_equal(got, want)


def _copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


# -- reads -------------------------------------------------------------------------------


def read_1d(x, i):
    return x[i], x[[1, 1, -2]], x[i][::-1]


def read_rows(A, i):
    return A[i], A[i, :], A[[2, 0]]


def read_columns(A, i):
    return A[:, i], A[1:, i], A[2, i], A[i[:3], 1], A[i[:2], 1:4]


def read_pairs(A, r, c):
    n = A.shape[0]
    return A[r, c], A[np.arange(n), c[:n]], A[r[:1], c], A[r.reshape(2, 2), c.reshape(2, 2)]


def read_masks(x, A):
    return x[x > 0], A[A < 0.5], A[np.abs(A) > 10.0]


def read_dtypes(ints, flags, i):
    return ints[i], flags[i], ints[ints > 2], flags[flags]


READS = [(read_1d, (V, IDX)), (read_rows, (M, np.array([3, -4, 0]))),
         (read_columns, (M, IDX)), (read_pairs, (M, ROWS, COLS)), (read_masks, (V, M)),
         (read_dtypes, (np.arange(6), np.arange(6) % 2 == 0, IDX))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args", READS, ids=[r[0].__name__ for r in READS])
def test_reads_match_numpy(fn, args, backend):
    f = adjoin.differentiable(fn, backend=_backend(backend))
    _same(f(*args), fn(*args))


def read_is_a_copy(x, i):
    y = x[i]
    y[0] = 100.0      # NumPy: a copy, x unchanged (unlike a slice)
    z = x[x > -100.0]
    z[1] = -7.0
    return x, y, z


@pytest.mark.parametrize("backend", BACKENDS)
def test_index_array_reads_are_copies(backend):
    f = adjoin.differentiable(read_is_a_copy, backend=_backend(backend))
    _same(f(V.copy(), IDX), read_is_a_copy(V.copy(), IDX))


# -- writes ------------------------------------------------------------------------------


def write_scalar(x, i):
    x[i] = 5.0
    return x


def write_array(x, i, v):
    x[i] = v
    return x


def write_augmented(x, i, v):
    x[i] += v          # repeated positions do not accumulate
    return x


def write_add_at(x, i, v):
    np.add.at(x, i, v)  # repeated positions accumulate
    return x


def write_masked(x, v):
    x[x > 0] = 0.0
    x[x < -0.5] = v[:1] * 2.0
    return x


def write_masked_values(x):
    m = x > 0
    x[m] = np.arange(6.0)[m] * 10.0
    return x


def write_2d(A, i, r, c, v):
    A[i] = 1.0
    A[:, i[:2]] = v[:2]
    A[r, c] += 3.0
    A[1, i[:3]] = -1.0
    A[i[:2], 2] = v[3]
    A[i[:2], 3:] = 9.0
    np.add.at(A, (r, c), v[:4])
    return A


WRITES = [(write_scalar, (V, IDX)), (write_array, (V, IDX, np.arange(5.0))),
          (write_array, (V, np.array([1, -5]), 7.0)),
          (write_augmented, (V, IDX, np.arange(5.0))),
          (write_add_at, (V, IDX, np.arange(5.0))), (write_masked, (V, np.ones(3))),
          (write_masked_values, (V,)),
          (write_2d, (M, np.array([3, 0, 1]), ROWS, COLS, np.arange(5.0))),
          (write_array, (np.arange(6), IDX, 2.0))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args", WRITES,
                         ids=[f"{w[0].__name__}{k}" for k, w in enumerate(WRITES)])
def test_writes_match_numpy(fn, args, backend):
    f = adjoin.differentiable(fn, backend=_backend(backend))
    args = _copies(args)
    mine, theirs = _copies(args), _copies(args)
    _same(f(*mine), fn(*theirs))
    _same(mine[0], theirs[0])  # the caller's array is written as in CPython


@pytest.mark.parametrize("backend", BACKENDS)
def test_repeated_writes_keep_the_last_value(backend):
    n = 2000  # many repeats, so that an unordered scatter would show
    i = RNG.integers(0, 7, n)
    v = np.arange(float(n))
    f = adjoin.differentiable(write_array, backend=_backend(backend))
    _same(f(np.zeros(7), i, v), write_array(np.zeros(7), i, v))
    _same(adjoin.differentiable(write_add_at, backend=backend)(np.zeros(7), i, v),
          write_add_at(np.zeros(7), i, v))


# -- functions -----------------------------------------------------------------------------


def takes(x, A, i):
    return (np.take(x, i), np.take(A, i), np.take(A, i[:2], axis=1), np.take(A, [1, 0], axis=0),
            np.take_along_axis(x, i, axis=0), np.take_along_axis(A, A.argmax(axis=1)[:, None]
                                                                 * 0 + 1, axis=1),
            np.take_along_axis(A, np.array([[0, 1, 2, 3, 0]]), axis=0),
            np.take_along_axis(A, i, axis=None))


def sorts(x, A, ints):
    return (np.sort(x), np.argsort(x), np.sort(A), np.argsort(A, axis=0), np.sort(A, axis=0),
            np.sort(A, axis=None), np.argsort(ints, kind="stable"), np.sort(ints),
            np.argsort(ints > 1))


TIES = np.array([3.0, -1.0, np.nan, 3.0, -0.0, 0.0, -1.0, np.inf, np.nan, -np.inf])


@pytest.mark.parametrize("backend", BACKENDS)
def test_take_and_sort_match_numpy(backend):
    _backend(backend)
    f = adjoin.differentiable(takes, backend=backend)
    _same(f(V, M, IDX), takes(V, M, IDX))
    ints = np.array([[3, 1, 3, 0, 1], [2, 2, 0, 2, 1]])
    got = adjoin.differentiable(sorts, backend=backend)(TIES, M, ints)
    want = sorts(TIES, M, ints)
    # NumPy's default quicksort leaves equal elements in an unspecified order; adjoin's
    # is the stable one, which is what NumPy's default gives for these inputs.
    want = tuple(np.argsort(a, kind="stable", axis=0) if k == 3 else w
                 for k, (a, w) in enumerate(zip([None, None, None, M], want))) + want[4:]
    _same(got, want)


# -- errors --------------------------------------------------------------------------------


def one(x, i):
    return x[i]


def pair(A, r, c):
    return A[r, c]


def masked(x, m):
    return x[m]


def store(x, i, v):
    x[i] = v
    return x


def store_masked(x, m, v):
    x[m] = v
    return x


ERRORS = [(one, (V, np.array([0, 6])), IndexError), (one, (V, np.array([-7])), IndexError),
          (one, (M, np.array([4])), IndexError), (pair, (M, ROWS, COLS[:3]), IndexError),
          (pair, (M, ROWS, np.array([0, 0, 5, 0])), IndexError),
          (masked, (V, np.ones(5, bool)), IndexError),
          (store, (V, np.array([6]), 1.0), IndexError),
          (store, (V, np.array([0, 1]), np.ones(3)), ValueError),
          (store_masked, (V, V > 0, np.ones(V.size + 1)), ValueError),
          (store_masked, (V, np.ones(3, bool), 1.0), IndexError)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, exc", ERRORS, ids=[f"{e[0].__name__}{k}" for k, e in
                                                      enumerate(ERRORS)])
def test_errors_match_numpy(fn, args, exc, backend):
    with pytest.raises(exc):
        fn(*_copies(args))
    f = adjoin.differentiable(fn, backend=_backend(backend))
    with pytest.raises(exc):
        f(*_copies(args))


def float_index(x, i):
    return x[i * 1.0]


def mixed(A, i):
    return A[i, i, i]


def mask_rows(A, m):
    return A[m]


@pytest.mark.parametrize("fn, args, exc", [
    (float_index, (V, IDX), TypingError), (mixed, (np.ones((2, 2, 2)), IDX), UnsupportedSyntax),
    (mask_rows, (M, np.ones(4, bool)), UnsupportedSyntax)])
def test_unsupported_forms_fail_at_compile_time(fn, args, exc):
    with pytest.raises(exc) as e:
        adjoin.differentiable(fn)(*args)
    assert "test_fancy_indexing.py" in str(e.value)


# -- derivatives ---------------------------------------------------------------------------


def loss_gather(x, A, i, r, c):
    return (np.sum(np.sin(x[i]) * np.arange(5.0)) + np.sum(A[i[:3]] ** 2)
            + np.sum(np.cos(A[:, i]) * A[:, i]) + np.sum(A[r, c] ** 3) + np.sum(x[x > 0] ** 2)
            + np.sum(np.take_along_axis(A, np.array([[0, 1, 2, 3, 0]]), axis=0) * A[0]))


def loss_writes(x, A, v, i, r, c):
    y = x * 1.0
    y[i] = v * np.arange(1.0, 6.0)
    y[i] += v ** 2
    z = A * 1.0
    np.add.at(z, (r, c), v[:4] * v[0])
    z[z > 0.3] = v[1]
    z[:, i[:2]] = np.sin(v[:2])
    w = x * 1.0
    w[x < 0] = v[:1] * 3.0
    return np.sum(y * np.cos(y)) + np.sum(z * z * np.arange(5.0)) + np.sum(w ** 3)


def loss_sort(x, A):
    return (np.sum(np.sort(x) * np.arange(6.0)) + np.sum(np.sort(A) ** 2 * np.arange(5.0))
            + np.sum(np.sort(A, axis=0)[0] * 2.0) + np.sum(x[np.argsort(x)][:2] ** 3))


DERIV = [(loss_gather, (V, M, IDX, ROWS, COLS), (0, 1)),
         (loss_writes, (V, M, np.arange(1.0, 6.0) / 3.0, IDX, ROWS, COLS), (0, 1, 2)),
         (loss_sort, (V, M), (0, 1))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", DERIV, ids=[d[0].__name__ for d in DERIV])
def test_gradients_and_tangents(fn, args, wrt, backend):
    f = adjoin.differentiable(fn, backend=_backend(backend))
    assert float(f(*args)) == pytest.approx(fn(*args), rel=1e-12)
    got = adjoin.grad(f, wrt=wrt)(*args)
    for g, w in zip(got, numeric_grad(fn, args, wrt)):
        np.testing.assert_allclose(np.asarray(_np(g), dtype=float), w, rtol=1e-6, atol=1e-7)
    tangents = [RNG.standard_normal(np.shape(a)) if i in wrt else None
                for i, a in enumerate(args)]
    _, dot = adjoin.jvp(f, args, tangents)
    want = sum(float(np.sum(_np(g) * tangents[i])) for g, i in zip(got, wrt))
    assert float(_np(dot)) == pytest.approx(want, rel=1e-9, abs=1e-12)


def hess_fn(x, i, r):
    y = x * 1.0
    y[i[:2]] = x[r[1:]] ** 2
    return np.sum(np.sort(x) ** 3 * np.arange(6.0)) + np.sum(x[i] ** 2 * x[r[0]]) + \
        np.sum(y ** 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian(backend):
    args = (V, IDX, np.array([1, 1, 4]))
    h = _np(adjoin.hessian(hess_fn, backend=_backend(backend))(*args))
    g = adjoin.grad(hess_fn, backend="python")
    want = np.stack([numeric_grad(lambda x, k=k: g(x, *args[1:])[k], [V], [0])[0]
                     for k in range(V.size)])
    np.testing.assert_allclose(h, want, rtol=1e-5, atol=1e-6)


def sum_of_reads(x, i):
    return np.sum(x[i] * np.arange(1.0, 6.0))


def augmented(x, v, i):
    y = x * 1.0
    y[i] += v
    return np.sum(y * np.arange(1.0, 7.0))


def added_at(x, v, i):
    y = x * 1.0
    np.add.at(y, i, v)
    return np.sum(y * np.arange(1.0, 7.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_repeated_indices(backend):
    """Reads accumulate in the gradient; `y[i] += v` keeps the last write only (so only
    that v gets a gradient); np.add.at accumulates."""
    _backend(backend)
    gx = _np(adjoin.grad(sum_of_reads, backend=backend)(V, IDX))
    np.testing.assert_array_equal(gx, [1.0, 0.0, 5.0, 5.0, 0.0, 4.0])  # 3 read twice: 2 + 3
    v = np.arange(5.0)
    gx, gv = _np(adjoin.grad(augmented, wrt=(0, 1), backend=backend)(V, v, IDX))
    np.testing.assert_array_equal(gx, np.arange(1.0, 7.0))
    np.testing.assert_array_equal(gv, [1.0, 0.0, 4.0, 6.0, 3.0])  # the first write to 3: 0
    gx, gv = _np(adjoin.grad(added_at, wrt=(0, 1), backend=backend)(V, v, IDX))
    np.testing.assert_array_equal(gv, [1.0, 4.0, 4.0, 6.0, 3.0])


def cross_entropy(z, y):
    e = np.exp(z - np.max(z, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    n = z.shape[0]
    return -np.mean(np.log(p[np.arange(n), y]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cross_entropy_against_torch(backend):
    torch = pytest.importorskip("torch")
    z, y = RNG.standard_normal((7, 4)), np.array([0, 3, 3, 1, 2, 0, 3])
    zt = torch.tensor(z, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(zt, torch.tensor(y))
    loss.backward()
    value, grad = adjoin.value_and_grad(cross_entropy, backend=backend)(z, y)
    assert float(_np(value)) == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(_np(grad), zt.grad.numpy(), rtol=1e-10, atol=1e-12)


def torch_reads(x, A, i, r, c):
    return (np.sum(np.sin(x[i])) + np.sum(A[r, c] ** 2) + np.sum(A[:, i] * A[:, i])
            + np.sum(np.sort(x) * np.arange(6.0)) + np.sum(x[x > 0] ** 3))


def test_gather_gradients_against_torch():
    torch = pytest.importorskip("torch")
    xt, At = (torch.tensor(a, requires_grad=True) for a in (V, M))
    out = (torch.sum(torch.sin(xt[IDX])) + torch.sum(At[ROWS, COLS] ** 2)
           + torch.sum(At[:, IDX] * At[:, IDX])
           + torch.sum(torch.sort(xt, stable=True).values * torch.arange(6.0))
           + torch.sum(xt[xt > 0] ** 3))
    out.backward()
    for backend in BACKENDS:
        gx, gA = adjoin.grad(torch_reads, wrt=(0, 1), backend=backend)(V, M, IDX, ROWS, COLS)
        np.testing.assert_allclose(_np(gx), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(_np(gA), At.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_gather_reads_like_numpy_in_generated_code():
    src = adjoin.adjoint_source(cross_entropy, RNG.standard_normal((3, 4)), np.array([0, 1, 3]))
    assert "np.add.at" in src or "ri.add_at" in src
    assert "p[" in src


def unused_reads(x, i):
    y = x[i]  # noqa: F841  (unused, but NumPy raises here: never removed)
    z = x * 1.0
    z[i] = 0.0
    return 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_unused_gathers_still_raise(backend):
    f = adjoin.differentiable(unused_reads, backend=_backend(backend))
    with pytest.raises(IndexError):
        f(np.ones(3), np.array([5]))
    with pytest.raises(IndexError):
        adjoin.grad(f)(np.ones(3), np.array([5]))


def in_loops(x, i, n):
    y = np.zeros(6)
    for k in range(n):
        y[i] += x[i] * k
        y[y > 3.0] = 3.0
        np.add.at(y, i[:2], x[i[:2]] ** 2)
    return np.sum(y ** 2)


@pytest.mark.parametrize("backend", BACKENDS)
def test_index_arrays_in_loops(backend):
    x, i = np.linspace(-1.0, 2.0, 6), np.array([1, 4, 4, -1])
    f = adjoin.differentiable(in_loops, backend=_backend(backend))
    assert float(f(x, i, 3)) == pytest.approx(in_loops(x, i, 3), rel=1e-12)
    np.testing.assert_allclose(_np(adjoin.grad(f)(x, i, 3)),
                               numeric_grad(in_loops, [x, i, 3], [0])[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_np(adjoin.hessian(f)(x, i, 2)),
                               adjoin.hessian(in_loops, backend="python")(x, i, 2), rtol=1e-10)
