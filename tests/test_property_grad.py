"""Property tests for derivatives: random programs (tests/progen.py) differentiated by adjoin.

Three properties, each on freshly drawn programs and inputs:

1. Reverse mode (Python backend) equals finite differences of the program run
   by CPython, for every float parameter and every element of the float array
   `a`. Random programs have kinks and jumps (branches, abs, min/max), where
   finite differences mean nothing, so an input counts only where the program
   is visibly smooth along every direction: central differences at two step
   sizes and second-order one-sided differences from either side must all agree
   to a tight tolerance (a kink at the point makes the two sides disagree, one
   within a step makes the step sizes disagree). Then the gradient must match
   tightly. Other inputs are discarded (hypothesis `assume`).
2. Forward mode agrees with reverse mode: the jvp's tangent equals the
   reverse gradient (a pullback for tuple outputs) dotted with the tangent.
3. The llvm backend computes what the Python backend computes: the primal
   (and the writes into the array argument, and the type of any exception),
   and the gradient or pullback.

Every failing example prints its program (hypothesis `note`); programs that
exposed bugs are replayed at fixed inputs in `REGRESSIONS` below.
More examples for a longer hunt: PROGEN_EXAMPLES=1500 pytest tests/test_property_grad.py
(the default run draws the same examples every time; HYPOTHESIS_RANDOM=1 draws fresh ones).
"""
import math
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

import adjoin
from adjoin.api import signature_of, specialize
from adjoin.errors import BackendError
from adjoin.ir.types import ScalarType, TupleType

from hunting import SETTINGS, examples
from progen import Program, arguments, programs
from test_property import copied, load, progdir  # noqa: F401  (progdir is a fixture)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INPUTS_PER_PROGRAM = 3

# Finite differences: steps, and how closely the estimates must agree to count as smooth.
STEP = 1e-4
AGREE = 1e-7        # relative to max(1, |derivative|): the stencils agree, so FD is exact
RTOL, ATOL = 1e-5, 1e-7   # adjoin's gradient against FD (ATOL relative to the gradient's size)


# ---------------------------------------------------------------------------
# Evaluating a program along one input direction


class Unusable(Exception):
    """CPython raised, or returned something that is not a finite float."""


def scalarize(out: Any, weights: Sequence[float]) -> float:
    """The output as one float: itself, or a weighted sum of a tuple's items."""
    items = out if isinstance(out, tuple) else (out,)
    if len(items) != len(weights) or isinstance(out, bool):
        raise Unusable()
    total = 0.0
    for v, w in zip(items, weights):
        if not isinstance(v, (float, int)) or isinstance(v, bool) or not math.isfinite(v):
            raise Unusable()
        total += w * v
    return total


def directions(args: Sequence[Any], wrt: Sequence[int]) -> List[Tuple[int, Any]]:
    """(argument index, element index or None) for every float input that is differentiated."""
    out = []
    for i in wrt:
        if isinstance(args[i], np.ndarray):
            out += [(i, k) for k in np.ndindex(args[i].shape)]
        else:
            out.append((i, None))
    return out


def along(fn: Callable, args: Sequence[Any], direction: Tuple[int, Any],
          weights: Sequence[float]) -> Callable[[float], float]:
    """t -> the scalarized output of fn with one input moved by t (arguments copied)."""
    i, k = direction

    def phi(t: float) -> float:
        moved = list(copied(args))
        if k is None:
            moved[i] = moved[i] + t
        else:
            moved[i][k] += t
        try:
            return scalarize(fn(*moved), weights)
        except (ArithmeticError, ValueError):
            raise Unusable() from None
    return phi


def smooth_derivative(phi: Callable[[float], float], h: float = STEP) -> Optional[float]:
    """phi'(0) when phi is visibly smooth around 0, else None.

    Central differences with steps h and h/10 (error ~ h^2 phi''') and second-order
    one-sided differences with step h/10 from the right and from the left; they
    agree to AGREE only where no kink or jump lies within h of 0 (at 0 itself, the
    one-sided estimates give the two different slopes)."""
    s = h / 10
    p = {t: phi(t) for t in (-h, -2 * s, -s, 0.0, s, 2 * s, h)}
    central_h = (p[h] - p[-h]) / (2 * h)
    central_s = (p[s] - p[-s]) / (2 * s)
    right = (-3 * p[0.0] + 4 * p[s] - p[2 * s]) / (2 * s)
    left = (3 * p[0.0] - 4 * p[-s] + p[-2 * s]) / (2 * s)
    estimates = [central_h, central_s, right, left]
    if not all(math.isfinite(e) for e in estimates):
        return None
    if max(estimates) - min(estimates) > AGREE * max(1.0, abs(central_s)):
        return None
    return central_s


# Distinct irrational offsets, one per float input position (the array's elements after
# the scalars): shifted inputs are generic, so no tie or kink of an intermediate value
# (min(u, v) with u == v, abs(0)) sits exactly at them. At such a point the program may
# be smooth while its pieces are not, and the derivative AD gives there is a convention
# that finite differences cannot check.
OFFSETS = [math.sqrt(p) / 37 for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43,
                                        47, 53, 59, 61, 67, 71, 73, 79, 83, 89)]


def generic(args: Sequence[Any]) -> Tuple[Any, ...]:
    """`args` with every float moved by its own offset (ints unchanged)."""
    out, pos = [], 0
    for a in args:
        if isinstance(a, float):
            a, pos = a + OFFSETS[pos], pos + 1
        elif isinstance(a, np.ndarray):
            a = (a + np.array(OFFSETS[pos:pos + a.size]).reshape(a.shape)).astype(a.dtype)
            pos += a.size
        out.append(a)
    return tuple(out)


# ---------------------------------------------------------------------------
# What a program returns, and adjoin's reverse derivative of it


def float_params(prog: Program) -> Tuple[int, ...]:
    return tuple(range(len(prog.floats))) + ((len(prog.params) - 1,) if prog.has_array else ())


def float_output(fn: Callable, args: Sequence[Any]) -> Optional[int]:
    """How many floats fn returns (1 or a tuple's length) by adjoin's typing, or None when
    something else (an int) is returned, which has no gradient."""
    fir = specialize(fn, signature_of(fn, args))
    t = fir.result_type
    if fir.attrs.get("mutates"):
        t = t.elts[0]
    items = t.elts if isinstance(t, TupleType) else (t,)
    if all(isinstance(e, ScalarType) and e.is_float for e in items):
        return len(items)
    return None


def reverse(fn: Callable, args: Sequence[Any], wrt: Sequence[int], weights: Sequence[float],
            backend: str = "python") -> List[Any]:
    """The gradient of scalarize(fn(...), weights) for the arguments `wrt`: by `grad` for a
    float output, by a pullback of the weights for a tuple."""
    if len(weights) == 1:
        g = adjoin.grad(fn, wrt=tuple(wrt), backend=backend)(*copied(args))
        return [w * weights[0] for w in g]
    _, pullback = adjoin.vjp(fn, *copied(args), backend=backend)
    cts = pullback(tuple(weights))
    return [cts[i] for i in wrt]


def weights_for(data, n_out: int) -> List[float]:
    if n_out == 1:
        return [1.0]
    return data.draw(st.lists(st.sampled_from([0.5, -1.0, 1.5, 2.0, -0.25]), min_size=n_out,
                              max_size=n_out), label="output weights")


def differentiable_inputs(fn: Callable, prog: Program, data,
                          shift: Callable = tuple) -> Iterator[Tuple[Tuple[Any, ...], int]]:
    """Up to INPUTS_PER_PROGRAM drawn inputs (passed through `shift`) at which CPython
    runs fn without raising, with how many floats fn returns; none when it returns an int."""
    for _ in range(INPUTS_PER_PROGRAM):
        args = shift(data.draw(arguments(prog), label="args"))
        try:
            fn(*copied(args))
        except (ArithmeticError, ValueError):
            continue
        n_out = float_output(fn, args)
        if n_out is None:
            event("returns an int")
            return
        yield args, n_out


# ---------------------------------------------------------------------------
# 1. Reverse mode against finite differences


def check_against_fd(fn: Callable, args: Sequence[Any], wrt: Sequence[int],
                     weights: Sequence[float], report=note) -> bool:
    """Compare adjoin's gradient with FD at one input; False when FD is not usable there."""
    try:
        scalarize(fn(*copied(args)), weights)
        fd = [smooth_derivative(along(fn, args, d, weights)) for d in directions(args, wrt)]
    except Unusable:
        return False
    if any(d is None for d in fd):
        return False
    got = reverse(fn, args, wrt, weights)
    flat = [float(v) for g in got for v in np.ravel(g)]
    report(f"args={args!r} weights={weights!r}\nadjoin gradient {flat!r}\nFD {fd!r}")
    size = max([1.0] + [abs(v) for v in fd])
    for g, want in zip(flat, fd):
        assert abs(g - want) <= RTOL * abs(want) + ATOL * size, \
            f"gradient {flat!r} differs from finite differences {fd!r}"
    return True


@settings(max_examples=examples(150), **SETTINGS)
@given(prog=programs(), data=st.data())
def test_reverse_matches_finite_differences(progdir, prog: Program, data):
    note(prog.source)
    fn = load(prog.source, progdir)
    ran = 0
    for args, n_out in differentiable_inputs(fn, prog, data, shift=generic):
        ran += check_against_fd(fn, args, float_params(prog), weights_for(data, n_out))
    event(f"inputs with usable FD: {ran}")
    assume(ran > 0)


# ---------------------------------------------------------------------------
# 2. Forward mode against reverse mode


def tangents_for(data, args: Sequence[Any], prog: Program) -> List[Any]:
    """A random tangent for every float input, None for the int `n`."""
    vals = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
    out = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            out.append(np.array(data.draw(st.lists(vals, min_size=a.size, max_size=a.size),
                                          label="array tangent")))
        elif i < len(prog.floats):
            out.append(data.draw(vals, label="tangent"))
        else:
            out.append(None)
    return out


def check_modes_agree(fn: Callable, args: Sequence[Any], tangents: Sequence[Any],
                      weights: Sequence[float], wrt: Sequence[int], report=note) -> None:
    """<weights, jvp(tangents)> == <reverse gradient of <weights, out>, tangents>."""
    _, out_dot = adjoin.jvp(fn, copied(args), tangents)
    dots = out_dot if isinstance(out_dot, tuple) else (out_dot,)
    forward = sum(w * d for w, d in zip(weights, dots))
    grads = reverse(fn, args, wrt, weights)
    terms = [float(v) for g, i in zip(grads, wrt)
             for v in np.ravel(np.asarray(g) * np.asarray(tangents[i]))]
    backward = math.fsum(terms)
    report(f"args={args!r} tangents={tangents!r} weights={weights!r}\n"
           f"jvp {out_dot!r} -> {forward!r}\nreverse {grads!r} -> {backward!r}")
    if not (math.isfinite(forward) and math.isfinite(backward)):
        assert not math.isfinite(forward) and not math.isfinite(backward), \
            f"one mode is finite: forward {forward!r}, reverse {backward!r}"
        return
    scale = max(sum(abs(t) for t in terms), sum(abs(w * d) for w, d in zip(weights, dots)))
    # Tangents carry every input's direction at once, so their arithmetic can absorb a
    # tiny part in a large one (the tangent of y - (y - a) is 0 when a's is 1e-190 and
    # y's is 0.7), which reverse mode, summing per input, does not: allow rounding at
    # the size of the tangents themselves.
    size = sum(float(np.sum(np.abs(t))) for t in tangents if t is not None)
    assert abs(forward - backward) <= 1e-9 * scale + 1e-13 * size, \
        f"forward mode {forward!r} != reverse mode {backward!r}"


@settings(max_examples=examples(100), **SETTINGS)
@given(prog=programs(), data=st.data())
def test_forward_matches_reverse(progdir, prog: Program, data):
    note(prog.source)
    fn = load(prog.source, progdir)
    ran = 0
    for args, n_out in differentiable_inputs(fn, prog, data):
        check_modes_agree(fn, args, tangents_for(data, args, prog), weights_for(data, n_out),
                          float_params(prog))
        ran += 1
    assume(ran > 0)


# ---------------------------------------------------------------------------
# 3. The llvm backend against the Python backend


def outcome(call: Callable[[], Any]) -> Tuple[str, Any]:
    """("ok", result) or ("raise", exception type); BackendError passes through."""
    try:
        return "ok", call()
    except BackendError:
        raise
    except Exception as e:  # noqa: BLE001  (any exception type must match across backends)
        return "raise", type(e)


def close(got: Any, want: Any, rtol: float) -> bool:
    """Equal up to rtol (NaN equals NaN), item by item, with the same kinds of values."""
    if isinstance(want, (tuple, list)):
        return isinstance(got, type(want)) and len(got) == len(want) and \
            all(close(g, w, rtol) for g, w in zip(got, want))
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.shape == want.shape and \
            got.dtype == want.dtype and np.allclose(got, want, rtol=rtol, atol=rtol,
                                                    equal_nan=True)
    if want is None or isinstance(want, (bool, int)):
        return type(got) is type(want) and got == want
    return isinstance(got, float) and \
        bool(np.isclose(got, want, rtol=rtol, atol=rtol, equal_nan=True))


def check_llvm(fn: Callable, native: Callable, args: Sequence[Any], prog: Program,
               report=note) -> bool:
    """The llvm primal and gradient against the Python backend's at one input; False
    when the program raised there (and so has no gradient)."""
    ref_args, got_args = copied(args), copied(args)
    want = outcome(lambda: adjoin.differentiable(fn)(*ref_args))
    got = outcome(lambda: native(*got_args))
    report(f"args={args!r}\nllvm -> {got!r}, {got_args!r}\npython -> {want!r}, {ref_args!r}")
    same = got[1] is want[1] if want[0] == "raise" else close(got[1], want[1], 1e-12)
    assert got[0] == want[0] and same, f"llvm primal {got!r} != Python backend's {want!r}"
    assert close(got_args, ref_args, 1e-12), "llvm wrote the array argument differently"
    if want[0] == "raise":
        return False
    n_out = float_output(fn, args)
    if n_out is None:
        return False
    weights = [1.0, -0.5][:n_out]
    wrt = float_params(prog)
    g_want = reverse(fn, args, wrt, weights)
    g_got = reverse(fn, args, wrt, weights, backend="llvm")
    report(f"llvm gradient {g_got!r}\npython gradient {g_want!r}")
    assert close(list(g_got), list(g_want), 1e-10), "llvm gradient != Python backend's"
    return True


def unsupported(e: BackendError) -> bool:
    """A BackendError that says the llvm backend does not support something (as opposed
    to an internal error, which is a bug)."""
    text = str(e)
    return "internal" not in text and "backend=\"python\"" in text


@settings(max_examples=examples(25), **SETTINGS)
@given(prog=programs(), data=st.data())
def test_llvm_matches_python_backend(progdir, prog: Program, data):
    note(prog.source)
    fn = load(prog.source, progdir)
    native = adjoin.differentiable(fn, backend="llvm")
    try:
        for k in range(INPUTS_PER_PROGRAM):
            args = data.draw(arguments(prog, extreme=30 if k == 2 else 0), label="args")
            check_llvm(fn, native, args, prog)
    except BackendError as e:
        note(f"BackendError: {e}")
        assert unsupported(e), f"llvm backend failed: {e}"
        event(f"unsupported by llvm: {str(e).splitlines()[0]}")
        assume(False)


# ---------------------------------------------------------------------------
# Programs that exposed bugs, replayed at the inputs that exposed them

REGRESSIONS = [
    # absorption in tangent arithmetic: y - (y - a) with y's tangent 0.7 and a's 1e-190
    ("""import math
import numpy as np


def f(y, z):
    a = z / (1.0 + z * z)
    return math.tanh(y - (y - a)) * 10.0
""", (0.0, 0.0), (0.6810747886632735, 1.0654231503756086e-190), [1.0]),
    # hypot(0, 0) inside a loop: the jvp divided 0 by 0 (now derivative 0 at the origin)
    ("""import math
import numpy as np


def f(x, y, n):
    k = 0
    while k < n:
        k += 1
        y = math.tanh(math.hypot(y, x)) * 10.0
    return math.sqrt(1.0 + math.hypot(n * 0.5, x) * math.hypot(n * 0.5, x)) + y
""", (0.0, 0.0, 0), (1.2, -0.5, None), [1.0]),
    ("""import math
import numpy as np


def f(x, y):
    return math.atan2(x * y, x) + math.hypot(x, y - x)
""", (0.0, 0.0), (0.3, 1.0), [1.0]),
    # a loop-carried value active on entry, overwritten by a constant in the body and
    # unused after the loop: forward mode dropped its tangent (for and while)
    ("""import math
import numpy as np


def f(x):
    v = math.exp(-x)
    for i in range(1):
        x = v / (2.0 + math.sin(x))
        v = 1.0
    return x
""", (1.3,), (1.0,), [1.0]),
    ("""import math
import numpy as np


def f(x, y):
    v = math.exp(-x)
    k = 0
    while k < 2:
        x = v / (2.0 + math.sin(x))
        v, y = y, 0.5
        k += 1
    return x
""", (1.3, 0.4), (1.0, -0.7), [1.0]),
]


@pytest.mark.parametrize("source,args,tangents,weights", REGRESSIONS)
def test_regressions(progdir, source, args, tangents, weights):
    fn = load(source, progdir)
    wrt = [i for i, t in enumerate(tangents) if t is not None]
    check_modes_agree(fn, args, tangents, weights, wrt, report=lambda _: None)
    for backend in ("python", "llvm"):
        grads = adjoin.grad(fn, wrt=tuple(wrt), backend=backend)(*args)
        assert all(math.isfinite(g) for g in grads)
