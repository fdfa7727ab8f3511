"""Property tests: functions made by factories, lambdas sharing a line, decorated
functions and aliased array arguments (tests/progen_callers.py) compile to what CPython
runs, on every backend, with derivatives to match.

For every entry function of a drawn module and a drawn x (and array A): each backend
returns CPython's value, or raises CPython's exception type, and leaves A as CPython
does when the call returns (for aliased arguments, through every view); `grad` with respect to x raises where
the primal raises, agrees across backends, and matches finite differences of the call
as CPython makes it (views rebuilt for every step) where the function is smooth.
"""
import math
from typing import Callable, Tuple

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

import adjoin
from adjoin.errors import CompileError

from hunting import SETTINGS, examples
from progen_callers import ARRAYS, CallerProgram, caller_programs
from test_property import load, progdir  # noqa: F401  (progdir is a fixture)
from test_property_grad import Unusable, generic, smooth_derivative
from test_property_numpy import BACKENDS, agree, check_same_outcome, outcome

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

XS = st.one_of(st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False),
               st.sampled_from([0.0, 1.0, -1.0, float("inf"), float("nan")]))


def call_plain(fn: Callable, build: Callable, x: float, base: np.ndarray):
    """fn called on arguments built from (x, a fresh copy of base); the result and the copy."""
    mine = base.copy()
    return outcome(lambda: fn(*build(x, mine))), mine


def check_entry(fn: Callable, build: Callable, x: float, base: np.ndarray, wrt: int,
                report=note, may_refuse: bool = False) -> None:
    try:
        _check_entry(fn, build, x, base, wrt, report)
    except CompileError as e:
        # Only partly overlapping views may be refused, and only for sharing memory.
        if not (may_refuse and "share memory" in str(e)):
            raise


def _check_entry(fn: Callable, build: Callable, x: float, base: np.ndarray, wrt: int,
                 report) -> None:
    want, want_base = call_plain(fn, build, x, base)
    report(f"x={x!r} A={base!r}\nCPython -> {want!r}, A={want_base!r}")
    grads = {}
    for backend in BACKENDS:
        got, got_base = call_plain(adjoin.differentiable(fn, backend=backend), build, x, base)
        report(f"{backend} -> {got!r}, A={got_base!r}")
        check_same_outcome(got, want, f"{backend} primal", 1e-12)
        # (a compiled call that raises leaves its arguments unwritten: documented)
        assert want[0] == "raise" or agree(got_base, want_base, 1e-12), \
            f"{backend} wrote A as {got_base!r}"
        g = adjoin.grad(fn, wrt=wrt, backend=backend)
        grads[backend] = outcome(lambda: g(*build(x, base.copy())))
        if want[0] == "raise":
            assert grads[backend][0] == "raise", f"{backend} grad {grads[backend]!r}"
        else:
            assert grads[backend][0] == "ok", f"{backend} grad raises {grads[backend][1]}"
    if want[0] == "raise" or not isinstance(want[1], float) or not math.isfinite(want[1]):
        return
    assert agree(grads["llvm"][1], grads["python"][1], 1e-9), f"gradients {grads!r}"
    # Finite differences at a generic point: at a tie (min(x, k) with x == k) the
    # program may be smooth while its pieces are not, and AD's value is a convention.
    xg, bg = generic((x, base))
    fd = smooth_or_none(lambda t: _scalar(fn, build, xg + t, bg))
    if fd is not None and math.isfinite(xg):
        report(f"FD at x={xg!r} A={bg!r}: {fd!r}")
        g = adjoin.grad(fn, wrt=wrt, backend="python")(*build(xg, bg.copy()))
        assert abs(g - fd) <= 1e-5 * abs(fd) + 1e-7 * max(1.0, abs(fd)), \
            f"gradient {g!r} differs from finite differences {fd!r}"


def _scalar(fn: Callable, build: Callable, x: float, base: np.ndarray) -> float:
    try:
        v = fn(*build(x, base.copy()))
    except (ArithmeticError, ValueError):
        raise Unusable() from None
    if not isinstance(v, float) or not math.isfinite(v):
        raise Unusable()
    return v


def smooth_or_none(phi):
    try:
        return smooth_derivative(phi)
    except Unusable:
        return None


def entries(prog: CallerProgram, module) -> Tuple[Tuple[str, Callable, Callable, int], ...]:
    """(description, function, argument builder, index of x) for every call to try."""
    out = []
    for name in prog.entries:
        fn = getattr(module, name)
        if prog.calls:
            out += [(f"{name}: {d}", fn, build, 2) for d, build in prog.calls]
        else:
            out.append((name, fn, lambda x, A: (x,), 0))
    return tuple(out)


@settings(max_examples=examples(40), **SETTINGS)
@given(prog=caller_programs(), data=st.data())
def test_made_and_aliased_functions_match_cpython(progdir, prog: CallerProgram, data):
    note(prog.source)
    module = load(prog.source, progdir, name=None)
    for what, fn, build, wrt in entries(prog, module):
        note(what)
        x = data.draw(XS, label="x")
        base = data.draw(ARRAYS, label="A")
        check_entry(fn, build, x, base, wrt, may_refuse=what.split(": ")[-1].startswith(
            "overlapping"))
