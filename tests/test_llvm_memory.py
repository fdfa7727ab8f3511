"""The llvm backend never corrupts memory or kills the process.

Allocation sizes straddling every chunk and block boundary of the call context's
allocator; sizes NumPy refuses (ValueError, MemoryError); recursion past Python's
limit or past the thread's stack (RecursionError); checked memory (guard words,
ADJOIN_CHECK_MEMORY=1, on for the whole suite in conftest.py) reporting a write
past an allocation. What could crash runs in a subprocess, so a regression fails
its test instead of killing pytest.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adjoin
from adjoin.backends.llvm import arrays, runtime_ir

pytest.importorskip("llvmlite")

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(code: str, **env: str):
    """Run `code` in a fresh interpreter; its last output line is JSON."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=300, cwd=HERE, env={**os.environ, **env})
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


def three(a, b, c):
    p = a.copy()
    q = np.ones_like(b)
    r = c.copy()
    return np.sum(p) + np.sum(q) + np.sum(r)


def many(a, k):
    s = 0.0
    for i in range(k):
        s += np.sum(a + float(i))
    return s


BOUNDARIES = """
    import json
    import numpy as np
    import adjoin
    from adjoin.backends.llvm.runtime_ir import BIG, CHUNK
    from adjoin.backends.llvm.guards import HEADER, TRAILER
    from test_llvm_memory import many, three

    bad = []
    f = adjoin.differentiable(three, backend="llvm")
    for dtype in (np.float64, np.float32, np.int64, np.bool_):
        size = np.dtype(dtype).itemsize
        counts = set()
        for edge in (16, CHUNK, 2 * CHUNK, BIG, 2 * BIG):
            for base in (edge, edge - HEADER - TRAILER):  # plain and guarded sizes
                counts.update(c for c in range(base // size - 1, base // size + 2) if c >= 0)
        small = np.ones(3, dtype)
        for n in sorted(counts):
            big = np.ones(n, dtype)
            for args in ((small, big, small), (big, big, big), (big, small, big)):
                for _ in range(2):  # the second call reuses the chunk the first kept
                    got, want = f(*args), three(*args)
                    if got != want:
                        bad.append([str(np.dtype(dtype)), n, float(got), float(want)])
    # Enough allocations in one call that chunks double up to their largest size.
    a = np.ones(BIG // 8)
    g = adjoin.differentiable(many, backend="llvm")
    for _ in range(2):
        if g(a, 300) != many(a, 300):
            bad.append(["many", 300])
    print(json.dumps(bad))
"""


@pytest.mark.parametrize("checked", ["0", "1"])
def test_allocations_straddling_every_chunk_and_block_boundary(checked):
    """Each chunk holds the request that made it (a 72 KiB array in a fresh 64 KiB
    chunk used to overrun it: malloc(): invalid size), for every dtype, with and
    without guard words, several allocations per call, calls repeated."""
    assert _run(BOUNDARIES, ADJOIN_CHECK_MEMORY=checked) == []


def fills(x):
    y = np.zeros(len(x))
    y[0] = x[0]
    return np.sum(y + x)


@pytest.mark.parametrize("n", [8192, 9000, 20000, 33000, 40000])
def test_the_reported_sizes_run(n):
    out = _run(f"""
        import json, numpy as np, adjoin
        from test_llvm_memory import fills
        x = np.arange({n}, dtype=float)
        print(json.dumps([adjoin.differentiable(fills, backend="llvm")(x) for _ in range(3)]))
    """, ADJOIN_CHECK_MEMORY="0")
    assert out == [fills(np.arange(n, dtype=float))] * 3


# -- sizes NumPy refuses --------------------------------------------------------------------

def zeros(n):
    return np.zeros(n)


def ones_2d(n, m):
    return np.ones((n, m))


def full_2d(n, v):
    return np.full((n, 2), v)


def empty_like_of(x, n):
    return np.sum(np.empty_like(np.zeros(n))) + np.sum(x)


def int_range(n):
    return np.arange(n)


def float_range(a, b, s):
    return np.arange(a, b, s)


def int_range_step_0(n):
    return np.arange(0, n, 0)


def spaced(x, n):
    return np.linspace(0.0, x, n)


def reshaped(x, a, b):
    return x.reshape(a, b)


def added(a, b):
    return a + b


def dotted(a, b):
    return np.dot(a, b)


def biggest(a):
    return np.max(a)


SIZE_CASES = [
    ("zeros", (2**40,)), ("zeros", (2**59,)), ("zeros", (2**60,)), ("zeros", (-5,)),
    ("int_range", (10**15,)), ("ones_2d", (2**32, 2**32)),
    ("ones_2d", (2**62, 0)), ("ones_2d", (3, -1)), ("ones_2d", (-3, -5)),
    ("full_2d", (-1, 2.0)), ("empty_like_of", (np.ones(2), -4)), ("spaced", (1.0, -3)),
    ("float_range", (0.0, 1e300, 1e-300)), ("float_range", (0.0, np.inf, 1.0)),
    ("float_range", (0.0, -np.inf, 1.0)), ("float_range", (0.0, np.nan, 1.0)),
    ("float_range", (0.0, -0.5, 1.0)), ("float_range", (0.0, 1e-300, 1e300)),
    ("float_range", (0.0, -1e-300, 1e300)), ("float_range", (1.0, 0.0, -0.3)),
    ("float_range", (0.0, 1.0, 0.0)), ("float_range", (0.0, 1.0, np.inf)),
    ("float_range", (0.0, 1.0, -np.inf)), ("float_range", (0.0, 4.7e18, 1.0)),
    ("int_range_step_0", (5,)),
    ("reshaped", (np.arange(6.0), -2, -3)), ("reshaped", (np.arange(6.0), -1, -1)),
    ("reshaped", (np.arange(6.0), 2, 4)), ("reshaped", (np.arange(0.0), 0, -1)),
    ("reshaped", (np.arange(6.0), -1, 3)),
    ("added", (np.ones(10**6), np.ones(10))), ("dotted", (np.ones(10**6), np.ones(10))),
    ("biggest", (np.zeros(0),)),
]


def _outcome(fn, args):
    try:
        out = fn(*args)
    except MemoryError:  # NumPy raises its subclass
        return "MemoryError"
    except Exception as e:
        return type(e).__name__
    return ["ok", list(np.shape(out))]


def test_sizes_numpy_refuses_raise_what_numpy_raises():
    """Negative sizes and shapes whose bytes overflow int64 raise ValueError, sizes
    malloc cannot give MemoryError, a zero arange step ZeroDivisionError; shapes that
    do not match end the call before a loop reads past an array (no SIGSEGV)."""
    got = _run("""
        import json, numpy as np, adjoin
        import test_llvm_memory as t
        print(json.dumps([t._outcome(adjoin.differentiable(getattr(t, name), backend="llvm"),
                                     args) for name, args in t.SIZE_CASES]))
    """)
    want = [_outcome(globals()[name], args) for name, args in SIZE_CASES]
    assert got == want
    assert "MemoryError" in want and "ValueError" in want and "ZeroDivisionError" in want


def test_gradient_code_checks_the_sizes_it_allocates():
    def scaled(x, n):
        return np.sum(x * np.ones(n))
    g = adjoin.grad(scaled, backend="llvm")
    with pytest.raises(ValueError, match="negative dimensions"):
        g(np.ones(1), -2)
    np.testing.assert_array_equal(g(np.ones(1), 3), [3.0])


# -- recursion --------------------------------------------------------------------------------

def walk(x, n):
    if n == 0:
        return x
    return np.sin(walk(x, n - 1)) * 1.01 + x


def walk_sum(x, n):
    if n == 0:
        return np.sum(x)
    return np.sin(walk_sum(x, n - 1)) + np.sum(x)


RECURSION = """
    import json, sys, threading, numpy as np, adjoin
    from test_llvm_memory import walk, walk_sum
    f = adjoin.differentiable(walk, backend="llvm")
    g = adjoin.grad(walk, backend="llvm")
    h = adjoin.grad(walk_sum, backend="llvm")

    def outcomes(n):
        out = []
        for call in (lambda: f(0.3, n), lambda: g(0.3, n), lambda: float(np.sum(h(np.ones(3), n))),
                     lambda: adjoin.vjp(walk, 0.3, n, backend="llvm")[1](1.0)[0]):
            try:
                out.append(call())
            except RecursionError:
                out.append("RecursionError")
        return out

    result = {"limit": sys.getrecursionlimit(), "deep": outcomes(10**6),
              "below": outcomes(sys.getrecursionlimit() - 100)}
    threads = {}
    for size in (128 << 10, 1 << 20):  # threads with stacks far smaller than the main one's
        threading.stack_size(size)
        t = threading.Thread(target=lambda: threads.__setitem__(str(size), outcomes(900)))
        t.start()
        t.join()
    result["threads"] = threads
    sys.setrecursionlimit(10**7)  # the stack runs out first: still RecursionError
    result["stack"] = outcomes(10**6)
    print(json.dumps(result))
"""


def test_recursion_raises_recursion_error_where_cpython_would():
    """Past sys.getrecursionlimit() (or the thread's stack), RecursionError for the
    primal, gradients through the _fwd/_bwd pair, and pullbacks; below it, the same
    values as the Python backend, also in threads with small stacks."""
    got = _run(RECURSION)
    assert got["deep"] == ["RecursionError"] * 4
    assert got["stack"] == ["RecursionError"] * 4
    below = got["limit"] - 100
    want = [walk(0.3, below), adjoin.grad(walk)(0.3, below),
            float(np.sum(adjoin.grad(walk_sum)(np.ones(3), below))),
            adjoin.vjp(walk, 0.3, below)[1](1.0)[0]]
    np.testing.assert_allclose(got["below"], want, rtol=1e-12)
    want_900 = [walk(0.3, 900), adjoin.grad(walk)(0.3, 900),
                float(np.sum(adjoin.grad(walk_sum)(np.ones(3), 900))),
                adjoin.vjp(walk, 0.3, 900)[1](1.0)[0]]
    for outcome in got["threads"].values():
        np.testing.assert_allclose(outcome, want_900, rtol=1e-12)


def test_only_functions_on_a_call_cycle_count_their_depth():
    from adjoin.api import module_of, specialize
    from adjoin.passes.callgraph import recursive_functions
    from adjoin.ir.types import F64, I64

    def leaf(x):
        return x * 2.0

    def ping(x, n):
        return leaf(x) if n <= 0 else pong(x, n - 1)

    def pong(x, n):
        return ping(x, n - 1) + 1.0
    fir = specialize(ping, [F64, I64])
    names = {f.name: f.name.split("_")[0] for f in module_of(fir)}
    assert sorted(names[n] for n in recursive_functions(module_of(fir))) == ["ping", "pong"]
    assert adjoin.differentiable(ping, backend="llvm")(1.0, 9) == ping(1.0, 9)


# -- checked memory ---------------------------------------------------------------------------

def past(x, k):
    y = np.zeros(len(x)) + x
    y[k] = 5.0
    return np.sum(y)


def past_bools(x, k):
    y = np.zeros(len(x), dtype=np.bool_) | x
    y[k] = True
    return np.sum(y)


@pytest.mark.parametrize("fn, x", [(past, np.ones(10)), (past_bools, np.ones(7, dtype=bool))])
def test_checked_memory_reports_a_write_past_an_allocation(fn, x, monkeypatch):
    """With index checks off, an out-of-range write lands on a guard word, and the call
    raises SystemError instead of corrupting memory silently."""
    monkeypatch.setenv("ADJOIN_CHECK_MEMORY", "1")
    monkeypatch.setattr(arrays, "BOUNDS", False)
    f = adjoin.differentiable(fn, backend="llvm")
    n = len(x)
    for k in (n, -n - 1):  # one element after the end, one before the start
        with pytest.raises(SystemError, match="outside an array's allocation"):
            f(x, k)
    assert f(x, 3) == fn(x, 3)  # the context is sound after the report


def test_checked_memory_is_chosen_when_a_module_is_built(monkeypatch):
    from adjoin.api import module_of, specialize
    from adjoin.backends.llvm import module_llvm_ir
    from adjoin.ir.types import ArrayType, F64, I64
    fir = specialize(past, [ArrayType(F64, 1), I64])
    for flag, has in (("1", True), ("0", False)):
        monkeypatch.setenv("ADJOIN_CHECK_MEMORY", flag)
        text = module_llvm_ir(module_of(fir), fir.name, optimized=False)
        assert ("adjoin_check_memory" in text) == has
    assert runtime_ir.check_memory() is False
