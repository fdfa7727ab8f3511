"""np.linalg's solve, inv, det, slogdet, cholesky, eigh and eigvalsh on every backend: the
primal against NumPy (the python backend exactly, eigenvectors up to sign elsewhere), the
errors NumPy raises, gradients against finite differences and torch autograd, forward mode
against reverse mode, Hessians against torch, and the compile-time refusals."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad, torch_grad, torch_hessian

BACKENDS = ["python", "llvm", "torch"]
RNG = np.random.default_rng(11)


def general(n):
    return RNG.standard_normal((n, n)) + n * np.eye(n)


def spd(n):
    m = RNG.standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


def backend_ok(backend):
    if backend == "torch":
        pytest.importorskip("torch")


# -- the ops themselves -----------------------------------------------------------------------


def solve(a, b):
    return np.linalg.solve(a, b)


def inv(a):
    return np.linalg.inv(a)


def det(a):
    return np.linalg.det(a)


def slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign, logdet


def cholesky(a):
    return np.linalg.cholesky(a)


def eigh(a):
    w, v = np.linalg.eigh(a)
    return w, v


def eigvalsh(a):
    return np.linalg.eigvalsh(a)


A4, S4, S1 = general(4), spd(4), spd(1)
PRIMAL = [(solve, (A4, RNG.standard_normal(4))), (solve, (A4, RNG.standard_normal((4, 2)))),
          (inv, (A4,)), (det, (A4,)), (det, (-A4,)), (slogdet, (-A4,)), (cholesky, (S4,)),
          (cholesky, (S1,)), (eigvalsh, (S4,)), (inv, (np.arange(4).reshape(2, 2),)),
          (det, (np.ones((0, 0)),)), (cholesky, (S4.T.copy(order="F")[::1, ::1],))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args", PRIMAL, ids=[f"{c[0].__name__}{i}" for i, c in
                                                  enumerate(PRIMAL)])
def test_values_match_numpy(fn, args, backend):
    backend_ok(backend)
    got, want = adjoin.differentiable(fn, backend=backend)(*args), fn(*args)
    for g, w in zip(got if isinstance(want, tuple) else [got],
                    want if isinstance(want, tuple) else [want]):
        assert np.shape(g) == np.shape(w)
        if backend == "python":
            np.testing.assert_array_equal(g, w)
            assert type(g) is type(w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [0, 1, 2, 5, 8])
def test_eigh_matches_numpy_up_to_eigenvector_signs(n, backend):
    backend_ok(backend)
    a = spd(n)
    a[0:n // 2, n // 2:] = 7.0  # above the diagonal: ignored, as NumPy does
    w, v = adjoin.differentiable(eigh, backend=backend)(a)
    w0, v0 = np.linalg.eigh(a)
    if backend == "python":
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(v, v0)
    np.testing.assert_allclose(w, w0, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.abs(v), np.abs(v0), atol=1e-10)
    lower = np.tril(a) + np.tril(a, -1).T
    np.testing.assert_allclose(v @ np.diag(w) @ v.T, lower, atol=1e-10)
    np.testing.assert_allclose(v.T @ v, np.eye(n), atol=1e-12)
    assert np.all(np.diff(w) >= 0)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_float32_stays_float32_and_mixed_solves_in_float64(backend):
    a32 = general(3).astype(np.float32)
    for fn, args in [(inv, (a32,)), (cholesky, (spd(3).astype(np.float32),)),
                     (solve, (a32, np.ones(3))), (solve, (a32, np.ones(3, np.float32)))]:
        got, want = adjoin.differentiable(fn, backend=backend)(*args), fn(*args)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5)
    assert np.float32(adjoin.differentiable(det, backend=backend)(a32)) == \
        pytest.approx(det(a32), rel=1e-5)


# -- errors ------------------------------------------------------------------------------------

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])
ERRORS = [(solve, (SINGULAR, np.ones(2)), np.linalg.LinAlgError),
          (solve, (np.zeros((3, 3)), np.ones((3, 2))), np.linalg.LinAlgError),
          (inv, (SINGULAR,), np.linalg.LinAlgError),
          (cholesky, (np.array([[1.0, 2.0], [2.0, 1.0]]),), np.linalg.LinAlgError),
          (cholesky, (-np.eye(3),), np.linalg.LinAlgError),
          (solve, (np.eye(2), np.ones(3)), ValueError),
          (solve, (np.ones((2, 3)), np.ones(2)), np.linalg.LinAlgError)]
ERRORS += [(fn, (np.ones((2, 3)),), np.linalg.LinAlgError)
           for fn in (inv, det, slogdet, cholesky, eigh, eigvalsh)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, exc", ERRORS, ids=[f"{c[0].__name__}{i}" for i, c in
                                                      enumerate(ERRORS)])
def test_errors_match_numpy(fn, args, exc, backend):
    backend_ok(backend)
    with pytest.raises(exc):
        fn(*args)
    with pytest.raises(exc):
        adjoin.differentiable(fn, backend=backend)(*args)


@pytest.mark.parametrize("backend", BACKENDS)
def test_singular_determinants_are_zero(backend):
    backend_ok(backend)
    d = adjoin.differentiable(det, backend=backend)(SINGULAR)
    assert d == 0.0 and np.copysign(1.0, d) == 1.0 and det(SINGULAR) == 0.0
    assert adjoin.differentiable(slogdet, backend=backend)(SINGULAR) == (0.0, -np.inf)
    assert slogdet(SINGULAR) == (0.0, -np.inf)


@pytest.mark.parametrize("backend", BACKENDS)
def test_slogdet_signs_follow_numpy_for_nan_and_swapped_rows(backend):
    backend_ok(backend)
    f = adjoin.differentiable(slogdet, backend=backend)
    for a in (np.array([[np.nan]]), np.array([[1.0, np.nan], [0.0, 1.0]]),
              np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[2.0, 1.0], [0.5, -3.0]])):
        with np.errstate(invalid="ignore"):
            want = slogdet(a)
        got = f(a)
        assert got[0] == want[0]
        np.testing.assert_allclose(got[1], want[1])


# -- derivatives ---------------------------------------------------------------------------------

def weights():
    return np.arange(1.0, 9.0).reshape(4, 2) / 8.0


def f_solve(a, b):
    return np.sum(np.linalg.solve(a, b) ** 2)


def f_solve_matrix(a, b):
    return np.sum(np.linalg.solve(a @ a, b) * weights())


def f_inv(a):
    return np.sum(np.linalg.inv(a) ** 2 * a)


def f_det(a):
    return np.linalg.det(a) ** 2 + np.linalg.det(a * 0.5)


def f_slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet ** 2


def f_cholesky(m):
    low = np.linalg.cholesky(m @ m.T + 4.0 * np.diag(np.ones(4)))
    return np.sum(low ** 3) + np.sum(low * weights()[:, 0])


def f_eigh(m):
    w, v = np.linalg.eigh(m @ m.T)
    return np.sum(w ** 2 * weights()[:, 1]) + np.sum(v ** 4 * weights()[:, 0])


def f_eigvalsh(m):
    return np.sum(np.linalg.eigvalsh(m @ m.T) ** 3 * weights()[:, 0])


M4 = RNG.standard_normal((4, 4))
CASES = [(f_solve, (A4, RNG.standard_normal(4)), (0, 1)),
         (f_solve_matrix, (A4, RNG.standard_normal((4, 2))), (0, 1)),
         (f_inv, (A4,), (0,)), (f_det, (A4,), (0,)), (f_slogdet, (-A4,), (0,)),
         (f_cholesky, (M4,), (0,)), (f_eigh, (M4,), (0,)), (f_eigvalsh, (M4,), (0,))]
IDS = [c[0].__name__ for c in CASES]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", CASES, ids=IDS)
def test_gradients_match_finite_differences_and_torch(fn, args, wrt, backend):
    backend_ok(backend)
    pytest.importorskip("torch")
    f = adjoin.differentiable(fn, backend=backend)
    assert float(f(*args)) == pytest.approx(fn(*args), rel=1e-11)
    got = adjoin.grad(f, wrt=wrt)(*args)
    got = got if isinstance(got, tuple) else (got,)
    for g, fd, tg in zip(got, numeric_grad(fn, args, wrt), torch_grad(fn, args, wrt)):
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(g, tg, rtol=1e-9, atol=1e-11)
    tangents = [RNG.standard_normal(np.shape(a)) if i in wrt else None
                for i, a in enumerate(args)]
    _, dot = adjoin.jvp(f, args, tangents)
    want = sum(float(np.sum(g * t)) for g, t in zip(got, [t for t in tangents if t is not None]))
    assert float(dot) == pytest.approx(want, rel=1e-9, abs=1e-11)


HESSIANS = [c for c in CASES if c[0] is not f_solve_matrix]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, args, wrt", HESSIANS, ids=[c[0].__name__ for c in HESSIANS])
def test_hessians_match_torch(fn, args, wrt, backend):
    backend_ok(backend)
    pytest.importorskip("torch")
    got = adjoin.hessian(fn, backend=backend)(*args)
    want = torch_hessian(fn, args, (0,))[0][0]
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-7, atol=1e-9)


def sum_cholesky(a):
    return np.sum(np.linalg.cholesky(a) * weights()[:, 0])


def sum_eigh(a):
    w, v = np.linalg.eigh(a)
    return np.sum(w * weights()[:, 1]) + np.sum(v ** 2 * weights()[:, 0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [sum_cholesky, sum_eigh])
def test_lower_triangle_only_gets_a_derivative(fn, backend):
    """cholesky and eigh read the lower triangle (NumPy's function): the gradient is that
    function's, 0 above the diagonal, and its symmetric part is torch's gradient."""
    backend_ok(backend)
    a = spd(4)
    g = adjoin.grad(fn, backend=backend)(a)
    np.testing.assert_allclose(g, numeric_grad(fn, (a,), (0,))[0], rtol=1e-6, atol=1e-8)
    assert np.all(np.triu(g, 1) == 0.0)
    sym = (np.tril(g) + np.tril(g, -1).T + np.diag(np.diag(g))) / 2.0
    np.testing.assert_allclose(sym, torch_grad(fn, (a,), (0,))[0], rtol=1e-9, atol=1e-11)
    _, dot = adjoin.jvp(fn, (a,), (np.triu(np.ones((4, 4)), 1),), backend=backend)
    assert dot == 0.0


# -- refusals -------------------------------------------------------------------------------------


def stacked(a):
    return np.linalg.inv(a)


def of_scalar(x):
    return np.linalg.det(x)


def test_stacked_matrices_and_scalars_are_refused_at_compile_time():
    with pytest.raises(adjoin.TypingError, match=r"np.linalg.inv\(\).*got a 3-d array"):
        adjoin.differentiable(stacked)(np.ones((2, 3, 3)))
    with pytest.raises(adjoin.TypingError, match=r"np.linalg.det\(\) needs an array"):
        adjoin.differentiable(of_scalar)(2.0)


def eigenvalues_only(a):
    w, v = np.linalg.eigh(a)  # w[0] + w[1]: a repeated eigenvalue, any basis of its space
    return w[0] + w[1] + 2.0 * w[2] + np.sum(np.linalg.eigvalsh(a) ** 2)


def sign_only(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_unused_results_need_no_inverse_and_no_eigenvalue_gaps(backend):
    """Through w alone eigh's derivative is finite at repeated eigenvalues (the unused V
    contributes nothing, never inf * 0); the sign alone needs no A^-1 (singular A)."""
    backend_ok(backend)
    a = np.diag([3.0, 1.0, 1.0])
    g = adjoin.grad(eigenvalues_only, backend=backend)(a)
    np.testing.assert_allclose(g, np.diag([2.0, 1.0, 1.0]) + 2.0 * a, atol=1e-12)
    assert np.all(adjoin.grad(sign_only, backend=backend)(SINGULAR) == 0.0)
