"""The llvm backend's scalar semantics, op by op, against CPython and NumPy.

Each op is compiled from IR text: marked `checked` (an op on Python scalars, or a
`math` function) it must return what CPython returns or raise the exception type
CPython raises (error_model="python", the default); unmarked, or under
error_model="numpy", it must give NumPy's result on NumPy scalars and never
raise or trap. Values sit at the edges: signed zeros, infinities, nan, the
largest floats, 2**53 + 1, the ends of the 64-bit range.
"""
import functools
import math
import struct
import warnings

import numpy as np
import pytest

import adjoin
from adjoin.backends.llvm import compile_entries
from adjoin.ir import parse_module

INT_MIN, INT_MAX = -2**63, 2**63 - 1
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 7.25, -8.0, 1e308, -1e308, 5e-324, 1e-300,
          math.inf, -math.inf, math.nan, float(2**53 + 1), 1e19, -9.3e18, float(2**63),
          -float(2**63), 9.2e18, 700.0, 1000.0, -745.5, 171.7, -3.0]
INTS = [0, 1, -1, 2, -2, 3, -7, 63, 64, 2**31, 2**53 + 1, 2**62, INT_MAX, INT_MIN,
        INT_MIN + 1, 3037000499, 3037000500, -3037000500]
RAISES = (ZeroDivisionError, ValueError, OverflowError)


def module_text(ops, types, result, attrs):
    """One function per op: `@<name>(%x, %y) -> result` computing `op %x, %y {attrs}`."""
    params = ", ".join(f"%{v}: {t}" for v, t in zip("xyz", types))
    operands = ", ".join(f"%{v}" for v in "xyz"[:len(types)])
    funcs = []
    for name, op, extra in ops:
        flags = ", ".join(f"{k} = true" for k in attrs + extra)
        funcs.append(f"func @{name}({params}) -> {result} {{\n"
                     f"  %r = {op} {operands}{' {' + flags + '}' if flags else ''} : {result}\n"
                     f"  return %r\n}}\n")
    return "\n".join(funcs)


@functools.lru_cache(maxsize=None)
def compiled(ops, types, result, checked, error_model="python"):
    """{name: native function} for `ops` ((name, op, (extra attrs...)), ...)."""
    text = module_text(ops, types, result, ("checked",) if checked else ())
    fns = compile_entries(parse_module(text), [n for n, _, _ in ops], error_model)
    return dict(zip((n for n, _, _ in ops), fns))


def outcome(fn, *args):
    """('value', v) or ('raise', exception type); ints beyond 64 bits are an
    OverflowError on llvm, complex results a ValueError (adjoin has no complex)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                v = fn(*args)
    except RAISES as e:
        return "raise", type(e)
    if isinstance(v, complex):
        return "raise", ValueError
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool) and \
            not INT_MIN <= int(v) <= INT_MAX:
        return "raise", OverflowError
    return "value", v


def same(got, want, rel=0.0):
    if got[0] != want[0]:
        return False
    if got[0] == "raise":
        return got[1] is want[1]
    g, w = got[1], want[1]
    if isinstance(w, (float, np.floating)):
        g, w = float(g), float(w)
        if math.isnan(w) or math.isnan(g):
            return math.isnan(w) and math.isnan(g)
        if rel and math.isfinite(w):
            return math.isclose(g, w, rel_tol=rel, abs_tol=1e-15)
        return struct.pack("<d", g) == struct.pack("<d", w)  # signed zeros too
    return int(g) == int(w) and type(g) is int


def check_all(native, reference, cases, rel=0.0):
    wrong = []
    for args in cases:
        got, want = outcome(native, *args), outcome(reference, *args)
        if not same(got, want, rel):
            wrong.append((args, got, want))
    assert not wrong, f"{len(wrong)} disagreements, e.g. {wrong[:4]}"


FLOAT_PAIRS = [(x, y) for x in FLOATS for y in FLOATS]
INT_PAIRS = [(x, y) for x in INTS for y in INTS]

# -- checked ops: CPython ----------------------------------------------------------------

FLOAT_BINARY = (("div", "div", ()), ("floordiv", "floordiv", ()), ("mod", "mod", ()),
                ("pow", "pow", ()), ("math_pow", "pow", ("math",)))
PYTHON_FLOAT = {"div": lambda x, y: x / y, "floordiv": lambda x, y: x // y,
                "mod": lambda x, y: x % y, "pow": lambda x, y: x ** y, "math_pow": math.pow}


@pytest.mark.parametrize("name", list(PYTHON_FLOAT))
def test_checked_float_binary_ops_follow_cpython(name):
    fns = compiled(FLOAT_BINARY, ("f64", "f64"), "f64", True)
    check_all(fns[name], PYTHON_FLOAT[name], FLOAT_PAIRS)


INT_BINARY = (("add", "add", ()), ("sub", "sub", ()), ("mul", "mul", ()),
              ("floordiv", "floordiv", ()), ("mod", "mod", ()),
              ("pow", "pow", ("int_result",)))
PYTHON_INT = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
              "floordiv": lambda x, y: x // y, "mod": lambda x, y: x % y,
              "pow": lambda x, y: x ** y}


@pytest.mark.parametrize("name", list(PYTHON_INT))
def test_checked_int_ops_raise_where_64_bits_do_not_hold_the_result(name):
    fns = compiled(INT_BINARY, ("i64", "i64"), "i64", True)
    pairs = INT_PAIRS if name != "pow" else \
        [(x, k) for x in INTS for k in (0, 1, 2, 3, 5, 31, 62, 63, 64, 65, 200)]
    check_all(fns[name], PYTHON_INT[name], pairs)


def test_checked_int_ops_with_a_float_result_follow_cpython():
    """int / int and int ** int with a variable exponent are floats (docs/python-subset.md);
    the ints here are exact as floats, where CPython's true division agrees."""
    fns = compiled((("div", "div", ()), ("pow", "pow", ())), ("i64", "i64"), "f64", True)
    small = [v for v in INTS if abs(v) <= 2**53] + [-2**53, 2**53]
    check_all(fns["div"], lambda x, y: x / y, [(x, y) for x in small for y in small])
    powers = [(x, k) for x in (0, 1, -1, 2, -2, 3, 10) for k in (-3, -1, 0, 1, 2, 60, 1100)]
    check_all(fns["pow"], lambda x, k: float(x ** k) if x ** k == int(x ** k) else x ** k,
              powers)


def test_messages_are_cpythons():
    fns = compiled(FLOAT_BINARY, ("f64", "f64"), "f64", True)
    for name, args in [("div", (1.0, 0.0)), ("floordiv", (1.0, -0.0)), ("mod", (2.0, 0.0)),
                       ("pow", (0.0, -1.0)), ("pow", (1e300, 2.0)), ("math_pow", (0.0, -1.0)),
                       ("math_pow", (10.0, 400.0))]:
        with pytest.raises(Exception) as want:
            PYTHON_FLOAT[name](*args)
        with pytest.raises(want.type, match=str(want.value).replace("(", r"\(")
                           .replace(")", r"\)")):
            fns[name](*args)
    ints = compiled(INT_BINARY, ("i64", "i64"), "i64", True)
    with pytest.raises(ZeroDivisionError, match="integer modulo by zero"):
        ints["mod"](5, 0)
    with pytest.raises(OverflowError, match="does not fit in 64 bits"):
        ints["floordiv"](INT_MIN, -1)


def test_negative_base_to_a_fractional_power_is_a_clear_value_error():
    fns = compiled(FLOAT_BINARY, ("f64", "f64"), "f64", True)
    assert isinstance((-8.0) ** (1 / 3), complex)  # CPython: a complex number
    with pytest.raises(ValueError, match="complex"):
        fns["pow"](-8.0, 1 / 3)
    assert fns["pow"](-8.0, 3.0) == -512.0 and fns["pow"](-math.inf, 0.5) == math.inf


UNARY_MATH = ("sin cos tan asin acos atan sinh cosh tanh asinh acosh atanh exp exp2 expm1 "
              "log log2 log10 log1p sqrt cbrt erf erfc gamma lgamma floor ceil trunc").split()
UNARY_OPS = tuple((n, n, ()) for n in UNARY_MATH)


@pytest.mark.parametrize("name", UNARY_MATH)
def test_checked_math_functions_follow_cpythons_mathmodule(name):
    fns = compiled(UNARY_OPS, ("f64",), "f64", True)
    reference = getattr(math, name, None)
    if reference is None:  # math.exp2 and math.cbrt exist from Python 3.11
        pytest.skip(f"math.{name} needs a newer Python")
    if name in ("floor", "ceil", "trunc"):  # the IR op gives a float; int() is a convert
        reference = getattr(np, name)
    # CPython computes gamma and lgamma itself: libm differs in the last bits (and near
    # lgamma's zeros at 1 and 2, CPython is the less accurate one)
    rel = 1e-13 if name in ("gamma", "lgamma") else 0.0
    poles = [-0.0, -1.0, -2.0, -170.0, 1e-320, -1e-320, 0.9999999999999999, 1.0 + 2**-52,
             171.62, 171.63, 2.5e305, 3e305, 709.78, 709.79, 710.5, -710.5, 1023.999, 1024.0]
    check_all(fns[name], reference, [(x,) for x in FLOATS + poles], rel)


def test_checked_float_to_int_conversion_raises_as_int_does():
    fns = compiled((("int", "convert", ()),), ("f64",), "i64", False)  # unchecked reference
    text = "func @f(%x: f64) -> i64 {\n  %r = convert %x {to = i64, checked = true} : i64\n" \
           "  return %r\n}\n"
    (f,) = compile_entries(parse_module(text), ["f"])
    edges = FLOATS + [9.223372036854775e18, -9.223372036854776e18, 9.2233720368547758e18,
                      -9.2233720368547768e18, 2.0**62 + 0.5, -0.9]
    check_all(f, int, [(x,) for x in edges])
    for x, exc, text in [(math.nan, ValueError, "NaN"), (math.inf, OverflowError, "infinity"),
                         (1e300, OverflowError, "64 bits"), (1e19, OverflowError, "64 bits")]:
        with pytest.raises(exc, match=text):
            f(x)
    assert f(-9.223372036854776e18) == INT_MIN and fns["int"](1e19) == INT_MIN


def test_checked_int_neg_and_abs_raise_at_the_bottom_of_the_range():
    ops = (("neg", "neg", ()), ("abs", "abs", ()))
    fns = compiled(ops, ("i64",), "i64", True)
    check_all(fns["neg"], lambda x: -x, [(x,) for x in INTS])
    check_all(fns["abs"], abs, [(x,) for x in INTS])


# -- unchecked ops: NumPy, never raising -----------------------------------------------------

# NumPy scalars (`x[i] / y`): array ufuncs differ for `a ** 0.5`, computed as sqrt(a)
NUMPY_FLOAT = {"div": lambda x, y: x / y, "floordiv": lambda x, y: x // y,
               "mod": lambda x, y: x % y, "pow": lambda x, y: x ** y}


@pytest.mark.parametrize("error_model", ["unmarked", "numpy"])
@pytest.mark.parametrize("name", list(NUMPY_FLOAT))
def test_unchecked_float_ops_follow_numpy(name, error_model):
    """Unmarked ops, and marked ones under error_model="numpy", give NumPy's results."""
    ops = FLOAT_BINARY[:4]
    fns = compiled(ops, ("f64", "f64"), "f64", error_model == "numpy", error_model
                   if error_model == "numpy" else "python")
    ref = NUMPY_FLOAT[name]
    check_all(fns[name], lambda x, y: ref(np.float64(x), np.float64(y)), FLOAT_PAIRS)


NUMPY_INT = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "floordiv": np.floor_divide,
             "mod": np.mod, "pow": np.power}


@pytest.mark.parametrize("name", list(NUMPY_INT))
def test_unchecked_int_ops_wrap_and_never_trap(name):
    """NumPy's int64: wrapping, `// 0` and `% 0` give 0, -2**63 // -1 gives -2**63
    (today's x86 would trap: SIGFPE)."""
    fns = compiled(INT_BINARY, ("i64", "i64"), "i64", False)
    ref = NUMPY_INT[name]
    pairs = INT_PAIRS if name != "pow" else [(x, k) for x in INTS for k in (0, 1, 2, 63, 64, 70)]
    check_all(fns[name], lambda x, y: ref(np.int64(x), np.int64(y)), pairs)
    if name in ("floordiv", "mod"):
        assert fns[name](INT_MIN, -1) == (INT_MIN if name == "floordiv" else 0)
        assert fns[name](7, 0) == 0


def test_unchecked_neg_abs_and_conversion_follow_numpy():
    fns = compiled((("neg", "neg", ()), ("abs", "abs", ())), ("i64",), "i64", False)
    assert fns["neg"](INT_MIN) == INT_MIN and fns["abs"](INT_MIN) == INT_MIN
    text = "func @f(%x: f64) -> i64 {\n  %r = convert %x {to = i64} : i64\n  return %r\n}\n" \
           "\nfunc @g(%x: f32) -> i64 {\n  %r = convert %x {to = i64} : i64\n  return %r\n}\n"
    f, g = compile_entries(parse_module(text), ["f", "g"])
    edges = np.array(FLOATS)
    with np.errstate(all="ignore"):
        singles = edges.astype(np.float32)
        want, want32 = edges.astype(np.int64), singles.astype(np.int64)
    assert [f(float(x)) for x in edges] == want.tolist()
    assert [g(x) for x in singles] == want32.tolist()


@pytest.mark.parametrize("name", ["sqrt", "log", "log10", "exp", "cosh", "acos", "atanh",
                                  "cos"])
def test_unchecked_math_follows_ieee(name):
    fns = compiled(UNARY_OPS, ("f64",), "f64", True, "numpy")
    ref = getattr(np, {"acos": "arccos", "atanh": "arctanh"}.get(name, name))
    check_all(fns[name], lambda x: ref(np.float64(x)), [(x,) for x in FLOATS], 1e-15)


# -- loops -------------------------------------------------------------------------------------

LOOPS = """func @forward(%lo: i64, %hi: i64, %st: i64) -> tuple<i64, i64> {
  %z = const 0 : i64
  %one = const 1 : i64
  %n, %last = for %i = %lo to %hi step %st iter(%a = %z, %b = %z) -> (i64, i64) {
    %a1 = add %a, %one : i64
    yield %a1, %i
  }
  %t = tuple %n, %last : tuple<i64, i64>
  return %t
}

func @backward(%lo: i64, %hi: i64, %st: i64) -> tuple<i64, i64> {
  %z = const 0 : i64
  %one = const 1 : i64
  %n, %last = for reversed %i = %lo to %hi step %st iter(%a = %z, %b = %z) -> (i64, i64) {
    %a1 = add %a, %one : i64
    yield %a1, %i
  }
  %t = tuple %n, %last : tuple<i64, i64>
  return %t
}

func @unit(%lo: i64, %hi: i64) -> i64 {
  %z = const 0 : i64
  %one = const 1 : i64
  %n = for %i = %lo to %hi step %one iter(%a = %z) -> i64 {
    %a1 = add %a, %one : i64
    yield %a1
  }
  return %n
}
"""
RANGES = [(INT_MIN, INT_MAX, 2**62), (INT_MIN, INT_MAX, 2**63 - 1), (INT_MAX, INT_MIN, -2**62),
          (INT_MAX, INT_MIN, INT_MIN), (INT_MIN, 0, 2**62), (-5, 2**63 - 1, 2**61),
          (0, 10, 3), (10, 0, -3), (0, 10, -1), (5, 5, 1), (INT_MAX - 3, INT_MAX, 2),
          (INT_MIN, INT_MIN + 5, INT_MAX), (2**62, INT_MIN, -2**62)]


def test_range_trip_counts_never_overflow():
    fwd, bwd, unit = compile_entries(parse_module(LOOPS), ["forward", "backward", "unit"])
    for lo, hi, st in RANGES:
        r = range(lo, hi, st)
        assert fwd(lo, hi, st) == (len(r), r[-1] if r else 0), (lo, hi, st)
        assert bwd(lo, hi, st) == (len(r), r[0] if r else 0), (lo, hi, st)
    for lo, hi in [(INT_MIN, INT_MIN + 3), (INT_MAX - 2, INT_MAX), (3, -3), (-2, 2)]:
        assert unit(lo, hi) == len(range(lo, hi))


def test_range_of_extreme_python_ints_runs_as_in_cpython():
    def count(lo, hi, st):
        n = 0
        for i in range(lo, hi, st):
            n += 1
        return n
    native = adjoin.differentiable(count, backend="llvm")
    assert native(-2**63, 2**63 - 1, 2**62) == count(-2**63, 2**63 - 1, 2**62) == 4


def reads_ahead(x, hi):
    s = 0.0
    for i in range(0, hi):
        s += x[i + 5]
    return s


def test_index_checks_hoisted_before_a_loop_hold_near_the_end_of_the_range():
    """The test before an unchecked loop must not wrap around (it did for hi = 2**63 - 1:
    the loop read past the array)."""
    f = adjoin.differentiable(reads_ahead, backend="llvm")
    x = np.arange(8.0)
    assert f(x, 3) == reads_ahead(x, 3) == 18.0
    with pytest.raises(IndexError):
        f(x, 2**63 - 1)


def test_a_while_loop_stops_after_an_error():
    """Checked results are 0 after an overflow; a loop waiting for them must not spin."""
    text = """func @f(%n: i64) -> i64 {
  %one = const 1 : i64
  %two = const 2 : i64
  %k = while iter(%a = %one) -> i64 {
    %c = lt %a, %n : bool
    condition %c
  } do (%b) {
    %b2 = mul %b, %two {checked = true} : i64
    yield %b2
  }
  return %k
}
"""
    (f,) = compile_entries(parse_module(text), ["f"])
    assert f(1000) == 1024
    with pytest.raises(OverflowError):
        f(INT_MAX)


# -- error codes ---------------------------------------------------------------------------------


def test_every_error_code_reaches_python_by_both_call_paths():
    from adjoin.runtime.native import ERROR_NAMES, ERRORS
    assert set(ERROR_NAMES) == set(ERRORS) and len(set(ERROR_NAMES.values())) == len(ERRORS)
    fns = compiled(FLOAT_BINARY, ("f64", "f64"), "f64", True)
    f = fns["pow"]
    assert f.fast is not None  # the machine-code entry point
    for call in (f, f.convert_and_call):
        with pytest.raises(OverflowError, match=r"Numerical result out of range.*compiled pow"):
            call(10.0, 400.0)
        assert call(2.0, 3.0) == 8.0  # the error was cleared


# -- error_model through the API -----------------------------------------------------------------


def ratio(x, y):
    return x / y + 1.0


def _mark_checked(fn, *args):
    """The `checked` mark the frontend puts on `/` of Python floats, set on the
    specialized IR before anything is compiled from it."""
    from adjoin.api import signature_of, specialize
    for op in specialize(fn, signature_of(fn, args)).walk():
        if op.name == "div":
            op.attrs["checked"] = True


def test_error_model_chooses_raising_or_ieee_results():
    _mark_checked(ratio, 1.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        adjoin.differentiable(ratio, backend="llvm")(1.0, 0.0)
    assert adjoin.differentiable(ratio, backend="llvm", error_model="numpy")(1.0, 0.0) == \
        math.inf
    with pytest.raises(ZeroDivisionError):
        adjoin.value_and_grad(ratio, backend="llvm")(1.0, 0.0)
    value, dx = adjoin.value_and_grad(ratio, backend="llvm", error_model="numpy")(1.0, 0.0)
    assert value == math.inf and dx == math.inf
    assert adjoin.jvp(ratio, (1.0, 0.0), (1.0, 0.0), backend="llvm",
                      error_model="numpy")[0] == math.inf
    f = adjoin.differentiable(ratio, backend="llvm", error_model="numpy")
    assert f.vjp(1.0, 0.0)[0] == math.inf and f.jvp((1.0, 0.0), (1.0, 0.0))[0] == math.inf
    assert adjoin.differentiable(ratio, backend="llvm")(1.0, 4.0) == 1.25
    # the Python backend's code runs under CPython: it raises whatever the error model
    with pytest.raises(ZeroDivisionError):
        adjoin.differentiable(ratio, error_model="numpy")(1.0, 0.0)


def test_error_model_is_validated_and_named_in_the_llvm_ir():
    with pytest.raises(ValueError, match="error_model"):
        adjoin.differentiable(ratio, backend="llvm", error_model="ieee")
    with pytest.raises(ValueError, match="error_model"):
        adjoin.grad(ratio, error_model="fast")
    _mark_checked(ratio, 1.0, 2.0)
    python = adjoin.llvm_ir(ratio, 1.0, 2.0, optimized=False)
    numpy = adjoin.llvm_ir(ratio, 1.0, 2.0, optimized=False, error_model="numpy")
    assert "error_model=python" in python and "error_model=numpy" in numpy
    assert "adjoin_fail" in python.split("define internal double @\"adjoin.ratio\"")[1]


def shifted(x, y):
    out = np.zeros(len(x))
    for i in range(1, len(x)):
        out[i] = x[i] * y[i - 1]
    return out


def test_checked_index_arithmetic_keeps_the_fast_loop_vectorized():
    """`i - 1` on Python ints is checked; where the hoisted index check holds it cannot
    overflow, and the fast loop computes it unchecked, so LLVM still vectorizes it."""
    from adjoin.api import signature_of, specialize
    marked = 0
    for op in specialize(shifted, signature_of(shifted, (np.ones(8), np.ones(8)))).walk():
        if op.name == "sub" and str(op.result.type) == "i64":
            op.attrs["checked"] = True
            marked += 1
    assert marked == 1
    assert "x double>" in adjoin.llvm_ir(shifted, np.ones(8), np.ones(8))  # its one loop
    x, y = np.linspace(0.5, 1.5, 9), np.linspace(2.0, 3.0, 9)
    np.testing.assert_array_equal(adjoin.differentiable(shifted, backend="llvm")(x, y),
                                  shifted(x, y))
