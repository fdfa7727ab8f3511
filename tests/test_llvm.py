"""The llvm backend against the Python backend (and so against CPython), on the corpus.

Primal results must agree to 1e-12 (summation order may differ in the last bits),
gradients and pullbacks to 1e-10, tangents to 1e-10; what the backend cannot
compile must fail at compile time with a BackendError suggesting the Python
backend.
"""
import os

import numpy as np
import pytest

import adjoin
from adjoin.errors import BackendError

from corpus import CORPUS

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _copy(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def _close(got, want, tol):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _close(g, w, tol)
        return
    if want is None:
        assert got is None
        return
    assert np.shape(got) == np.shape(want)
    if isinstance(want, np.ndarray):
        assert np.asarray(got).dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol, equal_nan=True)


def _float_params(args):
    return [i for i, a in enumerate(args)
            if isinstance(a, float) or (isinstance(a, np.ndarray) and a.dtype.kind == "f")]


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_primal_matches_python_backend(case):
    native = adjoin.differentiable(case.fn, backend="llvm")
    for args in case.args:
        _close(native(*_copy(args)), adjoin.differentiable(case.fn)(*_copy(args)), 1e-12)


def _cotangent(out):
    if isinstance(out, tuple):
        return tuple(_cotangent(o) for o in out)
    if isinstance(out, np.ndarray):
        return np.linspace(0.5, 1.5, out.size).reshape(out.shape) if out.dtype.kind == "f" \
            else np.zeros(out.shape, dtype=out.dtype)
    return 0.7 if isinstance(out, float) else 0.0


@pytest.mark.parametrize("case", [c for c in CORPUS if "nograd" not in c.tags],
                         ids=lambda c: c.name)
def test_derivatives_match_python_backend(case):
    for args in case.args:
        wrt = tuple(_float_params(args))
        if not wrt:
            continue
        out = case.fn(*_copy(args))
        if isinstance(out, float):
            _close(adjoin.grad(case.fn, wrt=wrt, backend="llvm")(*_copy(args)),
                   adjoin.grad(case.fn, wrt=wrt)(*_copy(args)), 1e-10)
        ct = _cotangent(out)
        _, pb = adjoin.vjp(case.fn, *_copy(args), backend="llvm")
        _, pb_ref = adjoin.vjp(case.fn, *_copy(args))
        first = pb(ct)
        _close(first, pb_ref(ct), 1e-10)
        _close(pb(ct), first, 0.0)  # a pullback can be called again
        tangents = [np.full(np.shape(a), 0.3) if isinstance(a, np.ndarray) else 0.3
                    if i in wrt else None for i, a in enumerate(args)]
        _close(adjoin.jvp(case.fn, _copy(args), tangents, backend="llvm")[1],
               adjoin.jvp(case.fn, _copy(args), tangents)[1], 1e-10)


def strided(x):
    s = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            s += x[i, j] * (i + 1) - j
    return s


def indexes(x, k):
    return x[k]


def test_strided_and_transposed_inputs_are_read_in_place():
    base = np.arange(24.0).reshape(4, 6)
    for view in (base[::2, 1::2], base.T, base[::-1]):
        assert adjoin.differentiable(strided, backend="llvm")(view) == strided(view)
        np.testing.assert_allclose(adjoin.grad(strided, backend="llvm")(view),
                                   adjoin.grad(strided)(view))


def test_index_errors_are_raised_not_read():
    f = adjoin.differentiable(indexes, backend="llvm")
    assert f(np.array([1.0, 2.0]), -1) == 2.0
    with pytest.raises(IndexError):
        f(np.array([1.0, 2.0]), 2)


def test_arguments_are_type_checked():
    f = adjoin.differentiable(indexes, backend="llvm")
    with pytest.raises(TypeError, match="unsupported type str"):
        f(["a", "b"], 0)


def test_opaque_custom_functions_ask_for_the_python_backend():
    import custom_fns
    with pytest.raises(BackendError, match='backend="python"'):
        adjoin.differentiable(custom_fns.in_a_loop, backend="llvm")(0.5, 2)


def allocates(x, n):
    s = 0.0
    for _ in range(n):
        y = x * 2.0 + 1.0
        s += np.sum(y)
    return s


def _rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_no_memory_grows_across_many_calls():
    x = np.ones(200)
    grad = adjoin.grad(allocates, backend="llvm")
    for _ in range(2000):
        grad(x, 5)
    before = _rss_mb()
    for _ in range(100_000):
        grad(x, 5)
    assert _rss_mb() - before < 20, "memory grew: arrays or tapes leak across calls"


def products(a, b, v, w):
    return np.sum(a @ v) + np.sum(np.dot(w, a)) + np.sum(np.sin(a @ b)) + np.dot(v, v)


@pytest.mark.parametrize("shape", [(3, 5), (100, 50)], ids=["small", "large"])
def test_matrix_products_in_every_layout_match_numpy(shape):
    """Matrix-vector products walk columns or rows by size and layout; both sums run
    over k in order, so every layout gives the same values, close to BLAS's."""
    rng = np.random.default_rng(5)
    m, n = shape
    a = rng.standard_normal((m, n))
    b = rng.standard_normal((n, 4))
    v, w = rng.standard_normal(n), rng.standard_normal(m)
    f = adjoin.differentiable(products, backend="llvm")
    g = adjoin.grad(products, wrt=(0, 1, 2, 3), backend="llvm")
    want = products(a, b, v, w)
    want_g = adjoin.grad(products, wrt=(0, 1, 2, 3))(a, b, v, w)
    results = []
    for layout in (a, np.asfortranarray(a), np.repeat(a, 2, axis=1)[:, ::2]):
        got = f(layout, b, v, w)
        assert got == pytest.approx(want, rel=1e-11)
        results.append(got)
        for x, y in zip(g(layout, b, v, w), want_g):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
    assert results[0] == results[1] == results[2]


def tapes_states(x, n):
    y = x * 1.0
    for _ in range(n):
        y = np.sin(y) * 0.5  # the gradient needs each y: every state is taped
    return np.sum(y)


def test_pullbacks_report_the_memory_they_keep():
    x = np.ones(1000)
    sizes = {}
    for backend in ("python", "llvm"):
        _, pb = adjoin.vjp(allocates, x, 30, backend=backend)
        sizes[backend] = pb.tape_nbytes
    _, small = adjoin.vjp(allocates, x, 3, backend="llvm")
    # The Python tape keeps nothing here (the gradient needs no residual); the llvm
    # context gives back each iteration's arrays at its end (release.py), so it keeps
    # its first chunk whatever the trip count.
    assert sizes["python"] == 0
    assert sizes["llvm"] == small.tape_nbytes < 30 * 8000
    # Arrays on the tape stay: the arena grows with them.
    _, taped = adjoin.vjp(tapes_states, x, 30, backend="llvm")
    _, taped_small = adjoin.vjp(tapes_states, x, 3, backend="llvm")
    assert taped.tape_nbytes >= 30 * 8000 > taped_small.tape_nbytes
    _, reference = adjoin.vjp(tapes_states, x, 30)
    np.testing.assert_allclose(taped(1.0)[0], reference(1.0)[0], rtol=1e-12)


def shifted(x, lo, hi, c):
    out = np.zeros(x.shape[0])
    s = 0.0
    for i in range(lo, hi):
        out[i] = x[i + c] * 2.0
        s += x[i - 1] + out[i]
    return s + np.sum(out)


def backwards_shifted(x, n):
    y = x.copy()
    for i in reversed(range(1, n)):
        y[i] += y[i - 1] * x[i]
    return np.sum(y)


@pytest.mark.parametrize("lo,hi,c", [(1, 9, 1), (1, 10, 0), (0, 0, 5), (5, 3, 0),
                                     (-4, 0, 0), (1, 10, 1), (0, 9, 1), (-12, 0, 0)])
def test_loop_index_checks_hoisted_keep_python_semantics(lo, hi, c):
    """Loops whose indices provably stay in range run unchecked; the others (negative
    indices wrapping, indices past the end) behave exactly as in CPython."""
    x = np.arange(10.0) + 1.0
    f = adjoin.differentiable(shifted, backend="llvm")
    try:
        want = shifted(x, lo, hi, c)
    except IndexError:
        with pytest.raises(IndexError):
            f(x, lo, hi, c)
        return
    assert f(x, lo, hi, c) == want
    np.testing.assert_allclose(adjoin.grad(shifted, backend="llvm")(x, lo, hi, c),
                               adjoin.grad(shifted)(x, lo, hi, c))


@pytest.mark.parametrize("n", [0, 1, 5, 10, 11])
def test_reversed_loops_with_in_place_carried_arrays(n):
    x = np.linspace(0.5, 1.5, 10)
    f = adjoin.differentiable(backwards_shifted, backend="llvm")
    if n > 10:
        with pytest.raises(IndexError):
            f(x, n)
        return
    assert f(x, n) == pytest.approx(backwards_shifted(x, n), rel=1e-14)
    np.testing.assert_allclose(adjoin.grad(backwards_shifted, backend="llvm")(x, n),
                               adjoin.grad(backwards_shifted)(x, n), rtol=1e-12)


def test_loop_accesses_planned_for_unchecked_indexing():
    from adjoin.api import module_of, specialize
    from adjoin.backends.llvm import bounds, prepare
    from adjoin.ir.types import ArrayType, F64, I64
    fir = specialize(backwards_shifted, [ArrayType(F64, 1), I64])
    prepared = prepare(module_of(fir))[fir.name]
    loop = next(op for op in prepared.walk() if op.name == "for")
    got = sorted((a.op.name, a.shift) for a in bounds.plan(loop))
    # y[i] read and written in place (y keeps its shape), y[i - 1], x[i]
    assert got == [("getitem", -1), ("getitem", 0), ("getitem", 0), ("setitem", 0)]
    assert all(bounds.same_buffer(y, a) for y, a in
               zip(loop.regions[0].block.ops[-1].operands, loop.regions[0].block.args[1:]))


def test_threads_may_call_one_function_at_once():
    from concurrent.futures import ThreadPoolExecutor
    grad = adjoin.grad(allocates, backend="llvm")
    inputs = [np.full(5000, float(k)) for k in range(16)]
    want = [adjoin.grad(allocates)(x, 20) for x in inputs]
    value, pullback = adjoin.vjp(allocates, inputs[3], 20, backend="llvm")
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: grad(x, 20), inputs * 4))
        pulled = list(pool.map(lambda c: pullback(c)[0], [1.0, 2.0] * 8))
    for g, w in zip(got, want * 4):
        np.testing.assert_array_equal(g, w)
    for k, p in enumerate(pulled):
        np.testing.assert_allclose(p, want[3] * (1.0 if k % 2 == 0 else 2.0))


def shaped_results(a, k, flag):
    b = a * 2.0
    return b.T, k * 3, a.shape[0] > 2 and flag, np.sum(b)


def test_machine_code_conversion_matches_the_ctypes_path():
    """Compiled functions convert common arguments in machine code and everything
    else through ctypes; both give the same values, types and errors."""
    from adjoin.backends.llvm import compile_entry
    from adjoin.api import module_of, specialize
    from adjoin.ir.types import ArrayType, BOOL, F64, I64
    fir = specialize(shaped_results, [ArrayType(F64, 2), I64, BOOL])
    nf = compile_entry(module_of(fir), fir.name)
    assert nf.fast is not None
    a = np.arange(6.0).reshape(2, 3)
    want = shaped_results(a, 4, True)
    for got in (nf.fast(a, 4, True), nf.convert_and_call(a, 4, True), nf(a, 4, True)):
        assert [type(x) for x in got[1:]] == [int, bool, float]
        assert got[1:] == want[1:]
        np.testing.assert_array_equal(got[0], want[0])
        assert got[0].flags.owndata and got[0].shape == (3, 2)
    # Any strides are taken as they are; another dtype or byte order falls back to
    # ctypes, which converts (or, for another type, reports) as before.
    np.testing.assert_array_equal(nf.fast(np.asfortranarray(a), 4, True)[0], want[0])
    from adjoin.runtime.native import Fallback
    for x in (a.astype(">f8"), np.arange(6, dtype=np.int64).reshape(2, 3), a[None]):
        with pytest.raises(Fallback):
            nf.fast(x, 4, True)
    np.testing.assert_array_equal(nf(a.astype(">f8"), 4, True)[0], want[0])
    for bad in [(a, 4), (a, 4, 1.5), (a[0], 4, True), ([[1.0]], 4, True)]:
        with pytest.raises(Fallback):
            nf.fast(*bad)
        with pytest.raises(TypeError):
            nf(*bad)


def test_errors_and_empty_results_through_machine_code_conversion():
    def picks(x, i, j):
        return x[i] // j, x[:i] * 2
    f = adjoin.differentiable(picks, backend="llvm")
    x = np.array([5, 7, 9])
    assert f(x, 1, 2) == picks(x, 1, 2) and f(x, 0, 2)[1].shape == (0,)
    with pytest.raises(IndexError, match="compiled"):
        f(x, 3, 2)
    # x[i] is a NumPy int64: `// 0` gives 0 as NumPy does (CPython warns, never raises)
    assert f(x, 1, 0)[0] == picks(x, 1, 0)[0] == 0
    assert f(x, 2, 3)[0] == 3  # the context was reset after the error


def neighbours(x, y):
    out = np.zeros(len(x))
    for i in range(1, len(x)):
        out[i] = x[i] * y[i - 1]
    return np.sum(out * out)


@pytest.mark.parametrize("layout", ["contiguous", "every other", "column of 2-D",
                                    "reversed"])
def test_unit_stride_version_and_strided_fallback_agree(layout):
    """Loops with hoisted index checks also assume stride 1 on the last axis; a strided
    view fails that test and runs the checked loop, with the same results."""
    base = np.linspace(0.5, 1.5, 24)
    views = {"contiguous": (base[:12], base[12:]), "every other": (base[::2], base[1::2]),
             "column of 2-D": (base.reshape(12, 2)[:, 0], base.reshape(12, 2)[:, 1]),
             "reversed": (base[:12][::-1], base[12:][::-1])}
    x, y = views[layout]
    assert adjoin.differentiable(neighbours, backend="llvm")(x, y) == \
        pytest.approx(neighbours(x, y), rel=1e-14)
    got = adjoin.grad(neighbours, wrt=(0, 1), backend="llvm")(x, y)
    want = adjoin.grad(neighbours, wrt=(0, 1))(x, y)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13)


def shifted_product(x, y):
    out = np.zeros(len(x))
    out[0] = x[0]
    for i in range(1, len(x)):
        out[i] = x[i] * y[i - 1]
    return out


def twice_shifted(x, y):
    return np.sum(shifted_product(x, y) + shifted_product(y, x))


def test_adjoint_loops_over_fresh_and_argument_arrays_vectorize():
    """The reverse sweep of an element-write loop reads arguments, values from the tape
    and fresh adjoint arrays: with unit strides known in the fast version (bounds.py) and
    fresh helper results' strides visible to the caller (arrays.fresh_result), LLVM
    vectorizes it."""
    text = adjoin.llvm_ir(twice_shifted, np.ones(8), np.ones(8), wrt=(0, 1))
    start = text.index("@adjoin.shifted_product_bwd(")
    body = text[start:text.index("\n}\n", start)]
    assert "x double>" in body


def power_sum(x, y):
    return np.sum(x ** y)


@pytest.mark.parametrize("x, y", [(np.array([1.5, 2.0, 0.7]), np.array([0.5, 2.0, 3.0])),
                                  (1.7, np.array([0.5, 2.0, 3.0])),
                                  (np.array([1.5, 2.0, 0.7]), 2.5)],
                         ids=["array ** array", "float ** array", "array ** float"])
def test_power_with_an_array_exponent_differentiates(x, y):
    """d(x ** y)/dx needs y - 1: a scalar 1 broadcast, never a constant of array type
    (which llvmlite could not print: TypeError: 'int' object is not iterable)."""
    from adjoin.testing import numeric_grad
    want = numeric_grad(power_sum, [x, y], (0, 1))
    dx = tuple(np.full_like(a, 0.3) if isinstance(a, np.ndarray) else 0.3 for a in (x, y))
    for backend in ("python", "llvm"):
        got = adjoin.grad(power_sum, wrt=(0, 1), backend=backend)(x, y)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-7)
        _, tangent = adjoin.jvp(power_sum, (x, y), dx, backend=backend)
        np.testing.assert_allclose(tangent, sum(np.sum(w * d) for w, d in zip(want, dx)),
                                   rtol=1e-7)


def test_constants_are_scalars_in_the_ir():
    from adjoin.ir.ops import TypeRuleError, infer
    from adjoin.ir.types import ArrayType, F64
    assert infer("const", [], {"type": F64, "value": 1.0}) == [F64]
    with pytest.raises(TypeRuleError, match="array type"):
        infer("const", [], {"type": ArrayType(F64, 1), "value": 1.0})
