"""Property tests: random programs (tests/progen.py) compiled by adjoin behave as in CPython.

Each drawn program is written to a real file, imported, compiled with
`adjoin.differentiable` and run on several drawn inputs, some of them extreme
(infinities, NaN, 1e308). Scalar results must be identical to CPython's (the Python
backend computes scalars with `math` and Python operators); the array argument,
which the program may write into, must end up as in CPython; where CPython raises,
adjoin raises the same exception type. The printed IR of each program must re-parse to the same
text and verify. A failing example prints its program (hypothesis `note`), so it
can be rerun by hand; known regressions are replayed at fixed inputs below.
"""
import hashlib
import importlib.util
import math
import pathlib

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import adjoin
from adjoin.api import module_of, signature_of, specialize
from adjoin.ir import parse_module, print_module, verify_module

from hunting import SETTINGS, examples
from progen import Program, arguments, programs

INPUTS_PER_PROGRAM = 3
# More examples for a longer hunt: PROGEN_EXAMPLES=5000 pytest tests/test_property.py


@pytest.fixture(scope="module")
def progdir(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("progen")


def load(source: str, directory: pathlib.Path, name: str = "f"):
    """Write `source` to its own file and import it, so `inspect` finds the source; the
    function `name`, or the module when `name` is None."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:16]
    path = directory / f"prog_{digest}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"prog_{digest}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module if name is None else getattr(module, name)


def copied(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def same(got, want) -> bool:
    """Exact equality for scalars (NaN equals NaN), allclose for arrays, per tuple item."""
    if isinstance(want, tuple):
        return isinstance(got, tuple) and len(got) == len(want) and \
            all(same(g, w) for g, w in zip(got, want))
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.shape == want.shape and \
            np.allclose(got, want, rtol=1e-13, atol=0.0, equal_nan=True)
    if isinstance(want, float) and math.isnan(want):
        return isinstance(got, float) and math.isnan(got)
    return got == want


def run(fn, args):
    """("ok", result, final arguments) or ("raise", exception type, None)."""
    args = copied(args)
    try:
        return "ok", fn(*args), args
    except Exception as e:  # noqa: BLE001  (the type must match CPython's)
        return "raise", type(e), None


def check_primal(fn, compiled, args, report=note) -> bool:
    """Compare one call: the same value and argument writes as CPython, or the same
    exception type. False when CPython raised."""
    want = run(fn, args)
    got = run(compiled, args)
    report(f"args={args!r}\nadjoin -> {got!r}\nCPython -> {want!r}")
    if want[0] == "raise":
        assert got[0] == "raise" and got[1] is want[1], \
            f"adjoin gives {got!r} where CPython raises {want[1].__name__}"
        return False
    assert got[0] == "ok", f"adjoin raises {got[1].__name__}, CPython returns {want[1]!r}"
    assert same(got[1], want[1]), f"result {got[1]!r} != CPython's {want[1]!r}"
    assert same(got[2], want[2]), "arguments written differently from CPython"
    return True


@settings(max_examples=examples(150), **SETTINGS)
@given(prog=programs(), data=st.data())
def test_primal_matches_cpython(progdir, prog: Program, data):
    note(prog.source)
    fn = load(prog.source, progdir)
    compiled = adjoin.differentiable(fn)
    for k in range(INPUTS_PER_PROGRAM):
        # the last input is extreme now and then (inf, nan, 1e308: CPython may raise)
        check_primal(fn, compiled, data.draw(arguments(prog, extreme=30 if k == 2 else 0)))


@settings(max_examples=examples(60), **SETTINGS)
@given(prog=programs(), data=st.data())
def test_ir_roundtrips_and_verifies(progdir, prog: Program, data):
    note(prog.source)
    fn = load(prog.source, progdir)
    types = signature_of(fn, data.draw(arguments(prog)))
    module = module_of(specialize(fn, types))
    verify_module(module)
    for locs in (False, True):
        text = print_module(module, locs=locs)
        again = parse_module(text)
        verify_module(again)
        assert print_module(again, locs=locs) == text


# ---------------------------------------------------------------------------
# Programs that once exposed compiler bugs, replayed at fixed inputs.

REGRESSIONS = {
    # A write into the array argument inside a loop, and after a branch that wrote it.
    "argument_write_in_loop": ("""
def f(x, n, a):
    for i in range(n):
        a[i % len(a)] = x * i
    if x > 0.0:
        a[0] = x
    a[-1] += 1.0
    return a[0]
""", [(0.5, 4, np.array([1.0, 2.0, 3.0])), (-0.5, 0, np.array([1.0]))]),
    # An alias of the array, written on one side of a branch and then through the other name.
    "alias_write_after_branch": ("""
def f(x, a):
    b = a
    if x > 0.0:
        b[0] = x
    a[-1] = b[0] + 1.0
    k = 0
    while k < 3:
        k += 1
        b[k % len(b)] += a[0]
    return a[0] + b[-1]
""", [(2.0, np.array([1.0, 2.0])), (-1.0, np.array([0.5, 1.5, 2.5]))]),
    # A loop over an array it writes into reads each element as it is at that step.
    "for_over_array_sees_writes": ("""
def f(x, a):
    s = 0.0
    for t in a:
        a[-1] = t + x
        s = s * 0.5 + t
    for i, t in enumerate(a):
        a[(i + 1) % len(a)] += t
    return s
""", [(10.0, np.array([1.0, 2.0, 3.0])), (0.5, np.array([2.0]))]),
    # A loop left by break walks the array object, even when its name is rebound.
    "for_with_break_over_rebound_name": ("""
def f(x, a):
    s = 0.0
    for t in a:
        s += t
        a = a * 2.0
        if s > x:
            break
    return s + a[0]
""", [(100.0, np.array([1.0, 2.0, 3.0])), (2.5, np.array([1.0, 2.0, 3.0]))]),
    # The loop's entry copy of its carried value must not clobber a value (here the
    # shared `a[0]`) that the loop body still yields.
    "loop_entry_copy_clobbers_live_value": ("""
def f(x, n, a):
    if a[0]:
        for t in a:
            k = 0
            while k < 2:
                k += 1
                x = x + t
            return a[0]
    return x
""", [(0.5, 4, np.array([1.0, 2.0, 3.0])), (0.5, 4, np.array([0.0, 2.0]))]),
    # The array a finished loop walked may be written after the loop.
    "write_after_loop_with_return_over_array": ("""
def f(x, a):
    if x > 0.0:
        for t in a:
            x += t
            return x
        a[0] = 1.0
    a[0] = 2.0
    return x
""", [(1.0, np.array([1.0, 2.0])), (-1.0, np.array([1.0, 2.0]))]),
    # An int returned from a loop meets a float return: the conversion at the merge
    # also runs where the loop returned nothing (its value is undefined there).
    "int_return_in_loop_meets_float_return": ("""
def f(x, n):
    if x > 0.0:
        for i in range(n):
            return n
    elif x < -1.0:
        return x
    return 2.0 * x
""", [(1.0, 2), (1.0, 0), (-2.0, 2), (-0.5, 1)]),
    # x is carried by the outer loop and unused after it, but it decides when the
    # inner loop (kept: its division may raise) breaks: its carry is live.
    "carried_value_steers_a_kept_inner_loop": ("""
def f(x, y):
    for i in range(3):
        j = 0
        while j < 2:
            if y / (1.0 + y * y) >= x:
                break
            j += 1
        x -= 0.5
    return y
""", [(1.0, 1.0), (0.1, 2.0)]),
    # ... or feeds values that a kept inner loop carries from one iteration to the next.
    "carried_value_feeds_a_kept_inner_loops_carries": ("""
def f(x, y):
    for i in range(3):
        a = 0.0
        b = 0.0
        for j in range(2):
            t = y / (1.0 + y * y)
            a, b = b + x, a
        x -= 0.5
    return y
""", [(1.0, 1.0), (0.1, 2.0)]),
}


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_regressions(progdir, name):
    source, inputs = REGRESSIONS[name]
    fn = load("import math\nimport numpy as np\n" + source, progdir)
    compiled = adjoin.differentiable(fn)
    for args in inputs:
        assert check_primal(fn, compiled, args, report=print)


def test_replacements_are_by_identity_not_by_reused_ids():
    """Tables keyed by `id` must hold their keys: a freed value's id is soon reused
    (this once made canonicalize substitute fresh constants, and the frontend see
    aliasing between an int and an array, only after many compilations)."""
    import gc
    from adjoin.ir.core import Value
    from adjoin.ir.types import F64
    from adjoin.frontend.scope import Origins
    from adjoin.passes.canonicalize import Subst
    subst, origins = Subst(), Origins()
    for _ in range(50):
        old = Value(F64)
        subst[old] = Value(F64)
        origins.fresh(old)
        del old
        gc.collect()
        new = Value(F64)
        assert new not in subst and subst.get(new, new) is new
        assert origins.get(new) == frozenset()
