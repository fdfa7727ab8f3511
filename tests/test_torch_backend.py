"""The torch backend against the Python backend: the whole corpus (primal and gradients,
NumPy arrays and float64 CPU tensors in), float32 against NumPy float32, every verb, the
generated source, and what the backend refuses."""
import re

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad
from corpus import CORPUS
from test_gradients import _cases, _copy, _cotangent_for, _float_params

torch = pytest.importorskip("torch")

RTOL = ATOL = 1e-12


def tensors(a):
    """Arrays as float64 (or int/bool) CPU tensors; other values as they are."""
    if isinstance(a, np.ndarray):
        return torch.tensor(a)
    if isinstance(a, tuple):
        return tuple(tensors(x) for x in a)
    return a


def plain(a):
    if isinstance(a, torch.Tensor):
        return a.numpy() if a.dim() else a.item()
    if isinstance(a, tuple):
        return tuple(plain(x) for x in a)
    return a


def close(got, want, what, rtol=RTOL, atol=ATOL):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for g, w in zip(got, want):
            close(g, w, what, rtol, atol)
        return
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), f"{what}: {type(got).__name__}"
        assert got.dtype == want.dtype and got.shape == want.shape, f"{what}: {got!r}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def outcome(fn, args):
    try:
        return fn(*_copy(args)), None
    except Exception as e:  # noqa: BLE001 - the outcome compared is the exception type
        return None, type(e)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_corpus_primal_on_numpy_arguments(case):
    ref = adjoin.differentiable(case.fn)
    f = adjoin.differentiable(case.fn, backend="torch")
    for args in case.args:
        want, want_error = outcome(ref, args)
        copies = _copy(args)
        if want_error is not None:
            with pytest.raises(want_error):
                f(*copies)
            continue
        got = f(*copies)
        close(got, want, f"{case.name}{args}")
        mutated = _copy(args)
        ref(*mutated)
        for a, b in zip(copies, mutated):  # writes into arguments, as CPython makes them
            if isinstance(a, np.ndarray):
                np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", [c for c in CORPUS
                                  if any(isinstance(a, np.ndarray) for a in c.args[0])],
                         ids=lambda c: c.name)
def test_corpus_primal_on_tensors(case):
    ref = adjoin.differentiable(case.fn)
    f = adjoin.differentiable(case.fn, backend="torch")
    for args in case.args:
        want, want_error = outcome(ref, args)
        if want_error is not None:
            continue
        targs = [tensors(a) for a in _copy(args)]
        got = f(*targs)
        for leaf in (got if isinstance(got, tuple) else (got,)):
            if isinstance(leaf, torch.Tensor):
                assert leaf.device.type == "cpu"
        close(plain(got), want, f"{case.name}{args}")


def _grads(fn, args, wrt, backend, convert=lambda a: a):
    out = fn(*_copy(args))
    if isinstance(out, float):
        return list(adjoin.grad(fn, wrt=tuple(wrt), backend=backend)(
            *[convert(a) for a in _copy(args)]))
    ct = _cotangent_for(out, np.random.default_rng(0))
    _, pullback = adjoin.vjp(fn, *[convert(a) for a in _copy(args)], backend=backend)
    grads = pullback(convert(ct))
    return [grads[i] for i in wrt]


@pytest.mark.parametrize("case", list(_cases()), ids=lambda c: c.name)
def test_corpus_gradients_match_the_python_backend(case):
    compared = 0
    for args in case.args:
        wrt = _float_params(args)
        if not wrt:
            continue
        try:
            want = _grads(case.fn, args, wrt, "python")
        except Exception as e:  # noqa: BLE001
            with pytest.raises(type(e)):
                _grads(case.fn, args, wrt, "torch")
            continue
        got = _grads(case.fn, args, wrt, "torch")
        close(tuple(got), tuple(want), f"{case.name}{args}")
        on_tensors = _grads(case.fn, args, wrt, "torch", tensors)
        close(tuple(plain(g) for g in on_tensors), tuple(want), f"{case.name}{args} tensors")
        compared += 1
    assert compared or not any(_float_params(a) for a in case.args)


# -- float32 --------------------------------------------------------------------------------


def mlp(x, w1, w2):
    h = np.tanh(w1 @ x)
    return np.sum(np.exp(-h * h) * w2)


def relax(u, k, n):
    for _ in range(n):
        v = u.copy()
        for i in range(1, u.shape[0] - 1):
            v[i] = u[i] + k * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        u = v
    return np.sum(u * u)


F32_CASES = [
    (mlp, lambda r: (r.standard_normal(4), r.standard_normal((3, 4)), r.standard_normal(3))),
    (relax, lambda r: (r.standard_normal(6), 0.2, 3)),
]


@pytest.mark.parametrize("fn, make", F32_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_float32_tensors_match_numpy_float32(fn, make):
    args = make(np.random.default_rng(1))
    args32 = tuple(a.astype(np.float32) if isinstance(a, np.ndarray) else a for a in args)
    want = adjoin.differentiable(fn)(*args32)
    got = adjoin.differentiable(fn, backend="torch")(*[tensors(a) for a in args32])
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.item(), want, rtol=2e-6)
    g = adjoin.grad(fn, backend="torch")(*[tensors(a) for a in args32])
    gw = adjoin.grad(fn)(*args32)
    assert g.dtype == torch.float32 and gw.dtype == np.float32
    np.testing.assert_allclose(g.numpy(), gw, rtol=1e-4, atol=1e-5)
    g64 = adjoin.grad(fn)(*args)
    np.testing.assert_allclose(g.numpy(), g64, rtol=1e-3, atol=1e-4)  # float32 rounding only


# -- verbs ------------------------------------------------------------------------------------


def energy(x, w, n):
    s = 0.0
    for i in range(n):
        s += np.sin(x[i]) * w[i] ** 2
    return s


X, W = np.linspace(0.1, 0.9, 5), np.linspace(1.0, 2.0, 5)


def test_forward_mode_and_second_order_on_torch():
    f = adjoin.differentiable(energy, backend="torch")
    value, dot = adjoin.jvp(f, (torch.tensor(X), torch.tensor(W), 5),
                            (torch.ones(5, dtype=torch.float64), None, None))
    assert isinstance(dot, torch.Tensor)
    assert dot.item() == pytest.approx(np.sum(np.cos(X) * W ** 2), rel=1e-12)
    h = adjoin.hessian(f)(X, W, 5)
    np.testing.assert_allclose(h, np.diag(-np.sin(X) * W ** 2), rtol=1e-12, atol=1e-14)
    hv = adjoin.hvp(f)(X, W, 5, np.ones(5))
    np.testing.assert_allclose(hv, -np.sin(X) * W ** 2, rtol=1e-12)
    jac = adjoin.jacobian(f, wrt=1)(X, W, 5)
    np.testing.assert_allclose(jac, 2 * np.sin(X) * W, rtol=1e-12)
    s = adjoin.differentiable(lambda a, b: a * a * b + np.sin(a), backend="torch")
    assert adjoin.derivative(s, order=3)(0.3, 2.0) == pytest.approx(-np.cos(0.3), rel=1e-12)


def test_gradients_against_finite_differences_on_tensors():
    f = adjoin.differentiable(relax, backend="torch")
    u = np.random.default_rng(3).standard_normal(7)
    g = adjoin.grad(f, wrt=(0, 1))(torch.tensor(u), 0.15, 4)
    fd = numeric_grad(relax, (u, 0.15, 4), (0, 1))
    np.testing.assert_allclose(g[0].numpy(), fd[0], rtol=1e-6, atol=1e-8)
    assert isinstance(g[1], torch.Tensor) and g[1].item() == pytest.approx(fd[1], rel=1e-6)


def test_writes_into_tensor_and_array_arguments_are_kept():
    def scale(a, s):
        for i in range(a.shape[0]):
            a[i] = a[i] * s
        return np.sum(a)
    f = adjoin.differentiable(scale, backend="torch")
    t = torch.arange(4, dtype=torch.float64)
    assert f(t, 2.0).item() == 12.0 and t.tolist() == [0.0, 2.0, 4.0, 6.0]
    a = np.arange(4.0)[::-1]  # negative strides: torch cannot share it, the write comes back
    assert f(a, 2.0) == 12.0 and a.tolist() == [6.0, 4.0, 2.0, 0.0]


def test_negative_step_slices():
    def rev(x):
        y = x[::-1] * 1.0
        z = np.zeros_like(x)
        z[::-2] = x[1::2] if x.shape[0] % 2 == 0 else x[::2]
        return np.sum(y * np.arange(x.shape[0]) + z * z)
    x = np.linspace(0.5, 2.0, 6)
    f = adjoin.differentiable(rev, backend="torch")
    assert f(x) == pytest.approx(rev(x.copy()), rel=1e-14)
    np.testing.assert_allclose(adjoin.grad(f)(x), adjoin.grad(rev)(x), rtol=1e-12)


def test_the_source_reads_as_the_python_backends():
    f = adjoin.differentiable(relax, backend="torch")
    src = adjoin.adjoint_source(f, np.ones(4), 0.1, 2)
    ref = adjoin.adjoint_source(relax, np.ones(4), 0.1, 2)
    code = [ln for ln in src.splitlines() if not ln.lstrip().startswith("#")]
    assert "import torch" in src and not any("np." in ln for ln in code)
    assert src.count("# grad of:") == ref.count("# grad of:")
    assigned = re.compile(r"^\s*([A-Za-z_]\w*)\s*\+?=", re.M)
    named = lambda text: {n for n in assigned.findall(text) if not re.fullmatch(r"t\d+", n)}
    assert named(src) <= named(ref)  # the source's names, as in the Python backend's code
    assert "u_bar += v_bar" in src  # adjoints accumulate in place
    assert re.search(r"def relax\w*_grad\(u, k, n, out_bar=1.0\):", src)
    assert "for i in reversed(range(" in src


def test_tensors_on_two_devices_are_refused():
    f = adjoin.differentiable(energy, backend="torch")
    meta = torch.empty(5, dtype=torch.float64, device="meta")
    with pytest.raises(ValueError, match="on cpu and meta"):
        f(torch.tensor(X), meta, 5)


def test_unsupported_tensor_dtypes_are_named():
    f = adjoin.differentiable(energy, backend="torch")
    with pytest.raises(TypeError, match="tensor of dtype torch.float16"):
        f(torch.ones(5, dtype=torch.float16), torch.tensor(W), 5)


# -- aliasing ---------------------------------------------------------------------------------


def set_then_read(a, b, v):
    a[0] = v
    return b[0] * 2.0


def test_a_tensor_passed_twice_is_one_array():
    f = adjoin.differentiable(set_then_read, backend="torch")
    t = torch.zeros(3, dtype=torch.float64)
    assert f(t, t, 9.0) == 18.0
    u = torch.zeros(4, dtype=torch.float64)
    assert f(u[1:], u[1:], 4.0) == 8.0  # two views of the same elements
    with pytest.raises(adjoin.CompileError, match="share memory"):
        f(u[1:], u[:3], 5.0)  # overlapping views are refused, as for NumPy arrays
    a = np.zeros(3)
    assert f(torch.from_numpy(a), a, 7.0) == 14.0  # a tensor and the array it shares


def test_derivatives_through_aliased_tensors_are_refused():
    f = adjoin.differentiable(set_then_read, backend="torch")
    t = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(adjoin.CompileError, match="shares memory"):
        adjoin.grad(f, wrt=0)(t, t, 9.0)


def test_dense_hessians_and_jacobians_of_tensors_come_back_as_tensors():
    f = adjoin.differentiable(energy, backend="torch")
    x, w = torch.tensor(X), torch.tensor(W)
    h = adjoin.hessian(f)(x, w, 5)
    assert isinstance(h, torch.Tensor) and h.shape == (5, 5)
    np.testing.assert_allclose(h.numpy(), np.diag(-np.sin(X) * W ** 2), rtol=1e-12,
                               atol=1e-14)
    jac = adjoin.jacobian(f, wrt=(0, 1))(x, w, 5)
    assert all(isinstance(j, torch.Tensor) for j in jac)
    np.testing.assert_allclose(jac[1].numpy(), 2 * np.sin(X) * W, rtol=1e-12)


def grow_then_read(B, n):
    B += (B * 1.0) * B[0:1]
    return float(B[n, 0])


def test_an_in_place_accumulation_is_not_passed_by_a_later_read():
    """Found by the random programs: `sum_to` gives its operand back, so two adjoints were
    one tensor; an expression reading the second was moved past the in-place `+=` into the
    first and read the sum (a silently wrong gradient). Reads now stay before it."""
    B = np.array([[0.25, 1.0], [-3.0, 2.0]])
    want = adjoin.grad(grow_then_read)(B.copy(), 1)
    got = adjoin.grad(grow_then_read, backend="torch")(B.copy(), 1)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(want, [[-3.0, 0.0], [1.25, 0.0]], rtol=1e-14)
