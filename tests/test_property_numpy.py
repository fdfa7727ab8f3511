"""Property tests on random NumPy programs (tests/progen_numpy.py): every backend against
CPython, gradients against finite differences, exceptions included.

For each drawn program and input:

1. Primal: CPython runs the program; each backend (python, llvm) must return the same
   value (float32 programs to float32 precision) and leave the array arguments as CPython
   left them, or raise the exception type CPython raises. The references are CPython
   running the program with adjoin's documented limits made explicit: a power with a
   complex result raises ValueError (both backends), and on the llvm backend an int that
   leaves 64 bits raises OverflowError.
2. Derivatives: where the primal raises, `grad` and `jvp` raise the same type on both
   backends (the gradient of a program that fails is not a number). Elsewhere the Python
   backend's gradient with respect to x, y, a and B matches finite differences where the
   program is visibly smooth (float64 inputs, finite values), the llvm backend's gradient
   matches the Python backend's, and forward mode agrees with reverse mode.

Inputs are ordinary mostly and extreme now and then (zeros, infinities, NaN, 1e308,
negative and huge ints). A failing example prints its program (hypothesis `note`).
The suite draws a fixed sample; tests/hunting.py says how to hunt with fresh programs.
"""
import contextlib
import io
import math
import warnings
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np
import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

import adjoin
from adjoin.errors import CompileError

from hunting import SETTINGS, examples
from progen_numpy import ArrayProgram, array_arguments, array_programs
from test_property import copied, load, progdir  # noqa: F401  (progdir is a fixture)
from test_property_grad import Unusable, along, directions, generic, smooth_derivative

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

INPUTS_PER_PROGRAM = 3
BACKENDS = ("python", "llvm")


# ---------------------------------------------------------------------------
# Outcomes: a value or an exception type


def outcome(call: Callable[[], Any]) -> Tuple[str, Any]:
    """("ok", result) or ("raise", exception type); CompileError passes through."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", call()
        except CompileError:
            raise
        except Exception as e:  # noqa: BLE001  (the type must match CPython's)
            return "raise", type(e)


def printing(call: Callable[[], Any]) -> Tuple[Tuple[str, Any], str]:
    """`outcome(call)` and what the call printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = outcome(call)
    return result, out.getvalue()


def same_exception(got: type, want: type) -> bool:
    """The type CPython raised, or a builtin base of it that is still specific
    (MemoryError for NumPy's _ArrayMemoryError), never a vague one."""
    vague = (BaseException, Exception, ArithmeticError, LookupError)
    return got is want or (issubclass(want, got) and got not in vague)


def tolerance(args: Sequence[Any]) -> float:
    f32 = any(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in args)
    return 2e-5 if f32 else 1e-10


def agree(got: Any, want: Any, rtol: float) -> bool:
    """Equal up to rtol, NaN equal to NaN, infinities exactly, arrays by shape and dtype."""
    if isinstance(want, np.ndarray):
        return isinstance(got, np.ndarray) and got.shape == want.shape and \
            got.dtype == want.dtype and \
            bool(np.allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True))
    if isinstance(want, (tuple, list)):
        return len(got) == len(want) and all(agree(g, w, rtol) for g, w in zip(got, want))
    if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, float, np.number)):
        return False
    return bool(np.isclose(float(got), float(want), rtol=rtol, atol=rtol, equal_nan=True))


def check_same_outcome(got: Tuple[str, Any], want: Tuple[str, Any], what: str,
                       rtol: float) -> None:
    if want[0] == "raise":
        assert got[0] == "raise" and same_exception(got[1], want[1]), \
            f"{what}: {got!r}, but CPython raises {want[1].__name__}"
    else:
        assert got[0] == "ok", f"{what} raises {got[1].__name__}; CPython returns {want[1]!r}"
        assert agree(got[1], want[1], rtol), f"{what}: {got[1]!r} != CPython's {want[1]!r}"


# ---------------------------------------------------------------------------
# 1. The primal on every backend against CPython


class Loaded:
    """A program, its compiled versions, and CPython references for each backend."""

    def __init__(self, prog: ArrayProgram, directory):
        self.prog = prog
        self.fn = load(prog.source, directory)
        self.reference = {"python": load(prog.oracle(ints64=False), directory),
                          "llvm": load(prog.oracle(ints64=True), directory)}
        self.compiled = {b: adjoin.differentiable(self.fn, backend=b) for b in BACKENDS}

    def expect(self, backend: str, args) -> Tuple[Tuple[str, Any], tuple, str]:
        """CPython's outcome, the arguments as it left them, and what it printed."""
        given_args = copied(args)
        want, text = printing(lambda: self.reference[backend](*given_args))
        return want, given_args, text


def check_primal(loaded: Loaded, args, report=note) -> Dict[str, Tuple[str, Any]]:
    """Each backend against CPython at one input; the outcome each backend must have."""
    rtol = tolerance(args)
    wants = {}
    for backend in BACKENDS:
        want, want_args, want_text = loaded.expect(backend, args)
        got_args = copied(args)
        got, text = printing(lambda: loaded.compiled[backend](*got_args))
        if want[0] == "raise" and want[1] is OverflowError and got[0] == "ok":
            # An int beyond 64 bits that nothing reads need not raise: CPython's value
            want, want_args, want_text = loaded.expect("python", args)
        elif got == ("raise", OverflowError) and want != got:
            # adjoin's ints are 64-bit on every backend (documented): where CPython goes on
            # with a bigger int (NumPy may even pick uint64), the 64-bit reference raises
            want, want_args, want_text = loaded.expect("llvm", args)
        report(f"{backend}: args={args!r}\nadjoin -> {got!r}\nCPython -> {want!r}")
        check_same_outcome(got, want, f"{backend} primal", rtol)
        assert text == want_text, f"{backend} printed {text!r}, CPython {want_text!r}"
        if want[0] == "ok":
            assert agree(got_args, want_args, rtol), \
                f"{backend} left the arguments {got_args!r}, CPython {want_args!r}"
        wants[backend] = want
    return wants


@settings(max_examples=examples(25), **SETTINGS)
@given(prog=array_programs(), data=st.data())
def test_array_programs_match_cpython(progdir, prog: ArrayProgram, data):
    note(prog.source)
    loaded = Loaded(prog, progdir)
    for _ in range(INPUTS_PER_PROGRAM):
        check_primal(loaded, data.draw(array_arguments(prog), label="args"))


# ---------------------------------------------------------------------------
# 2. Derivatives: raise where the primal raises, else match FD and each other

WRT = (0, 1, 3, 4)   # x, y, a, B


# Finite differences are a reference only at moderate inputs: a product of two huge ones
# overflows (derivatives then follow IEEE rules, differences of the saturated value are
# 0), and a step added to a value near 1e19 is absorbed (an ulp there is 2048), so
# differences see a constant where the real-number derivative is not 0.
MODERATE = 1e6


def float64_and_moderate(args: Sequence[Any]) -> bool:
    """Float64 inputs at which finite differences are a reference: finite and below
    MODERATE in magnitude."""
    for v in args:
        if isinstance(v, np.ndarray) and (v.dtype != np.float64 or
                                          not np.all(np.abs(v) < MODERATE)):
            return False
        if isinstance(v, float) and not abs(v) < MODERATE:
            return False
    return True


def gradient(loaded: Loaded, backend: str, args) -> Tuple[str, Any]:
    return outcome(lambda: adjoin.grad(loaded.fn, wrt=WRT, backend=backend)(*copied(args)))


def tangent(loaded: Loaded, backend: str, args, tangents) -> Tuple[str, Any]:
    return outcome(lambda: adjoin.jvp(loaded.fn, copied(args), tangents, backend=backend))


def fd_gradient(fn: Callable, args) -> List[Any]:
    """Finite differences along every float input, or None where not smooth."""
    try:
        return [smooth_derivative(along(fn, args, d, [1.0])) for d in directions(args, WRT)]
    except Unusable:
        return None


def check_derivatives(loaded: Loaded, args, tangents, report=note) -> None:
    wants = check_primal(loaded, args, report)
    want = wants["python"]
    rtol = tolerance(args)
    grads = {b: gradient(loaded, b, args) for b in BACKENDS}
    jvps = {b: tangent(loaded, b, args, tangents) for b in BACKENDS}
    report(f"gradients {grads!r}\njvps {jvps!r}")
    for backend in BACKENDS:
        expected = wants[backend]
        # (llvm's 64-bit limit on ints, where CPython returns: a derivative that does
        # not need the overflowing int may return CPython's derivative instead)
        limit_only = expected[0] == "raise" and expected[1] is OverflowError and \
            want[0] == "ok"
        if expected[0] == "raise":
            for what, got in (("grad", grads[backend]), ("jvp", jvps[backend])):
                if limit_only and got[0] == "ok":
                    continue
                assert got[0] == "raise" and same_exception(got[1], expected[1]), \
                    f"{backend} {what} {got!r} where the primal raises {expected[1].__name__}"
        else:
            assert grads[backend][0] == "ok", f"{backend} grad raises {grads[backend][1]}"
            assert jvps[backend][0] == "ok", f"{backend} jvp raises {jvps[backend][1]}"
    if want[0] == "raise" or grads["llvm"][0] == "raise":
        return
    flat = {b: [float(v) for g in grads[b][1] for v in np.ravel(g)] for b in BACKENDS}
    if not all_finite(args):
        # NumPy's BLAS skips zero vector entries in some matrix products (inf * 0 adds
        # nothing there); llvm computes inf * 0 = nan (documented). One nan and one
        # number are then both NumPy's arithmetic.
        flat["llvm"] = [p if math.isnan(g) != math.isnan(p) else g
                        for g, p in zip(flat["llvm"], flat["python"])]
    assert agree(flat["llvm"], flat["python"], max(rtol, 1e-9)), \
        f"llvm gradient {flat['llvm']!r} != python's {flat['python']!r}"
    check_modes(flat["python"], jvps["python"][1][1], tangents, rtol)
    if float64_and_moderate(args) and math.isfinite(float(want[1])):
        check_fd(loaded, generic(args), report)


def all_finite(args: Sequence[Any]) -> bool:
    return all(bool(np.all(np.isfinite(v))) for v in args if isinstance(v, (float, np.ndarray)))


def check_fd(loaded: Loaded, args, report) -> None:
    """The Python backend's gradient at `args` equals finite differences there, where
    the program is visibly smooth. Called at generic points: at a tie (np.maximum(a, b)
    with a == b) the program may be smooth while its pieces are not, and AD's value
    there is a convention that finite differences cannot check."""
    if loaded.expect("python", args)[0][0] == "raise":
        return  # (moved off an integer, a power of a negative base is complex there)
    fd = fd_gradient(loaded.fn, args)
    if fd is None or any(d is None for d in fd):
        return
    got = gradient(loaded, "python", args)
    assert got[0] == "ok", f"python grad raises {got[1]!r} at {args!r}"
    flat = [float(v) for g in got[1] for v in np.ravel(g)]
    size = max([1.0] + [abs(d) for d in fd])
    report(f"FD at {args!r}: {fd!r}")
    for g, d in zip(flat, fd):
        assert abs(g - d) <= 1e-5 * abs(d) + 1e-7 * size, \
            f"gradient {flat!r} differs from finite differences {fd!r}"
    event("gradient checked against FD")


def check_modes(reverse: List[float], out_dot: Any, tangents, rtol: float) -> None:
    """<reverse gradient, tangents> equals the jvp's output tangent (to float32
    precision for float32 programs)."""
    flat_t = [float(v) for i in WRT for v in np.ravel(tangents[i])]
    products = [g * t for g, t in zip(reverse, flat_t)]
    forward = float(out_dot)
    # (an overflowed gradient or tangent has no reference to compare with)
    if not (math.isfinite(forward) and all(math.isfinite(p) for p in products)):
        return
    try:
        backward = math.fsum(products)
    except OverflowError:
        return
    scale = sum(abs(p) for p in products) + abs(forward)
    assert abs(forward - backward) <= max(rtol, 1e-8) * scale + 1e-12, \
        f"forward mode {forward!r} != reverse mode {backward!r}"


def tangents_for(data, args) -> List[Any]:
    vals = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
    out: List[Any] = []
    for i, a in enumerate(args):
        if i == 2:
            out.append(None)
        elif isinstance(a, np.ndarray):
            items = data.draw(st.lists(vals, min_size=a.size, max_size=a.size), label="tangent")
            out.append(np.array(items, dtype=a.dtype).reshape(a.shape))
        else:
            out.append(data.draw(vals, label="tangent"))
    return out


@settings(max_examples=examples(12), **SETTINGS)
@given(prog=array_programs(), data=st.data())
def test_array_program_derivatives(progdir, prog: ArrayProgram, data):
    note(prog.source)
    loaded = Loaded(prog, progdir)
    for _ in range(INPUTS_PER_PROGRAM):
        args = data.draw(array_arguments(prog), label="args")
        check_derivatives(loaded, args, tangents_for(data, args))


# ---------------------------------------------------------------------------
# 3. The torch backend against the Python backend

torch = pytest.importorskip("torch")


def finite_float64(args: Sequence[Any]) -> bool:
    return all_finite(args) and all(not isinstance(v, np.ndarray) or v.dtype != np.float32
                                    for v in args)


@settings(max_examples=examples(20), **SETTINGS)
@given(prog=array_programs(), data=st.data())
def test_torch_backend_matches_the_python_backend(progdir, prog: ArrayProgram, data):
    """Where the Python backend returns (finite inputs; the torch backend follows IEEE on
    tensor data instead of raising, docs/torch-backend.md), the torch backend returns the
    same values, leaves the arguments alike, and gives the same gradient; on NumPy arrays
    and on tensors."""
    note(prog.source)
    loaded = Loaded(prog, progdir)
    on_torch = adjoin.differentiable(loaded.fn, backend="torch")
    for _ in range(2):
        args = data.draw(array_arguments(prog), label="args")
        if not finite_float64(args):
            continue
        want_args, got_args = copied(args), copied(args)
        want, want_text = printing(lambda: loaded.compiled["python"](*want_args))
        if want[0] == "raise" or not all_finite([np.asarray(want[1], dtype=float)]):
            continue
        got, text = printing(lambda: on_torch(*got_args))
        note(f"args={args!r}\ntorch -> {got!r}\npython -> {want!r}")
        assert got[0] == "ok", f"torch raises {got[1]!r} where python returns"
        assert text == want_text, f"torch printed {text!r}, python {want_text!r}"
        rtol = max(tolerance(args), 1e-9)
        assert agree(got[1], want[1], rtol) and agree(got_args, want_args, rtol)
        grads = gradient(loaded, "python", args)
        if grads[0] == "raise":
            continue
        tgrads = gradient(loaded, "torch", args)
        assert tgrads[0] == "ok", f"torch grad raises {tgrads[1]!r}"
        flat = {k: [float(v) for g in r[1] for v in np.ravel(g)]
                for k, r in (("python", grads), ("torch", tgrads))}
        assert agree(flat["torch"], flat["python"], rtol), \
            f"torch gradient {flat['torch']!r} != python's {flat['python']!r}"
        tensors = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in copied(args)]
        on_tensors = adjoin.grad(loaded.fn, wrt=WRT, backend="torch")(*tensors)
        flat_t = [float(v) for g in on_tensors for v in np.ravel(
            g.cpu().numpy() if isinstance(g, torch.Tensor) else g)]
        assert agree(flat_t, flat["python"], rtol), "torch gradient on tensors differs"
        event("torch compared")
