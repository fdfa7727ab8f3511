"""Bad input never escapes as an internal exception.

Unsupported code raises `adjoin.CompileError` (the subclass for its kind) that
names the construct and points at it: `file:line:col: message`, the source line,
and a caret under the column. The offending functions live in bad_functions.py,
a real file, so locations are real; each offending line carries a marker comment
`# E:<name>` that gives the line the error must point at. Wrong arguments to a
compiled function are `TypeError`s, as Python raises them.
"""
import importlib.util
import os
import re
import sys
import textwrap
from dataclasses import dataclass
from typing import Tuple

import numpy as np
import pytest

import adjoin
import bad_functions as bf
from adjoin.api import specialize
from adjoin.errors import (BackendError, CompileError, TypingError, UnknownCallee,
                           UnsupportedSyntax)
from adjoin.ir.types import F64

SOURCE = open(bf.__file__).read().splitlines()


MARKER = re.compile(r"# E:(\w+)$")


def marker_line(name: str) -> int:
    hits = [i + 1 for i, line in enumerate(SOURCE) if line.rstrip().endswith(f"# E:{name}")]
    assert len(hits) == 1, f"marker E:{name} found {len(hits)} times"
    return hits[0]


@dataclass
class Bad:
    name: str                    # function in bad_functions.py, and its marker
    args: Tuple                  # arguments it is called with
    error: type                  # the exact CompileError subclass
    caret: str                   # the source text the caret must point at
    construct: str               # CompileError.construct
    phrases: Tuple[str, ...] = ()  # must appear in the message

    def __str__(self) -> str:
        return self.name


A1 = np.linspace(0.5, 1.5, 3)
A2 = np.arange(4.0).reshape(2, 2)
U, T, K, C = UnsupportedSyntax, TypingError, UnknownCallee, CompileError

CASES = [
    # Statements and syntax adjoin rejects
    Bad("uses_try", (1.0,), U, "try:", "try/except", ("try/except", "not supported")),
    Bad("uses_with", (1.0,), U, "with open", "the 'with' statement", ("'with'",)),
    Bad("uses_yield", (1.0,), U, "yield x", "'yield' (generators)", ("yield",)),
    Bad("uses_class", (1.0,), U, "class Local", "class definitions", ("class",)),
    Bad("uses_global", (1.0,), U, "global GLOBAL_TOTAL", "the 'global' statement",
        ("'global'",)),
    Bad("uses_nonlocal", (1.0,), U, "nonlocal y", "the 'nonlocal' statement", ("'nonlocal'",)),
    Bad("uses_raise", (1.0,), U, "raise ValueError", "the 'raise' statement", ("'raise'",)),
    Bad("uses_walrus", (1.0,), U, "y := x", "the walrus operator ':='", (":=",)),
    Bad("uses_del", (1.0,), U, "del y", "the 'del' statement", ("'del'",)),
    Bad("uses_import", (1.0,), U, "import cmath", "import statements inside the function",
        ("import",)),
    Bad("match_statement", (1.0,), U, "match x", "the 'match' statement", ("'match'",)),
    Bad("uses_async", (1.0,), U, "async def inner", "async functions", ("async",)),
    Bad("nested_decorator", (1.0,), U, "def inner", "decorators", ("decorators",)),
    Bad("expression_statement", (1.0,), U, "x + 1.0", "expression statement", ("no effect",)),
    # Parameters
    Bad("star_args", (1.0,), U, "rest)", "*args", ("*args",)),
    Bad("keyword_only", (1.0,), U, "scale=1.0", "keyword-only parameters", ("keyword-only",)),
    Bad("lambda_star", (1.0,), U, "t: t", "*args", ("*args",)),
    Bad("lambda_default", (1.0,), U, "x: t * k", "default argument", ("constant defaults",)),
    Bad("lambda_default_late", (1.0,), U, "x: t * k", "default argument",
        ("constant defaults",)),
    Bad("def_default", (1.0,), U, "x * 2.0", "default argument", ("constant defaults",)),
    # Data structures, strings, literals
    Bad("dict_comp", (1.0,), U, "{i: x", "dict comprehensions", ("dict comprehensions",)),
    Bad("set_comp", (1.0,), U, "{x * i", "set comprehensions", ("set comprehensions",)),
    Bad("dict_literal", (1.0,), T, 'x', "dict", ("dict keys must be constant strings",)),
    Bad("set_literal", (1.0,), U, "{x, 2.0}", "sets", ("sets",)),
    Bad("f_string", (1.0,), U, 'f"{x}"', "f-strings", ("f-strings",)),
    Bad("plain_string", (1.0,), U, '"hello"', "strings", ("strings are supported by adjoin only",)),
    Bad("bytes_string", (1.0,), U, 'b"abc"', "strings", ("strings are supported by adjoin only",)),
    Bad("uses_complex", (1.0,), U, "1j", "complex numbers", ("complex",)),
    Bad("uses_list", (1.0,), U, "items[0] = 2.0", "structure write",
        ("writing into a list is not supported",)),
    Bad("list_comp_alone", (1.0, 2), U, "[x * i", "list comprehension",
        ("list comprehensions",)),
    Bad("nested_two_generators", (1.0, 2), U, "(i * j * x", "comprehension",
        ("more than one 'for'",)),
    Bad("huge_constant", (1,), T, "123456789012345678901234567890", "integer constant",
        ("64 bits",)),
    Bad("huge_global", (1,), T, "HUGE", "integer constant", ("64 bits",)),
    # Calls adjoin cannot compile
    Bad("calls_input", (1.0,), K, "input(x)", "call", ("'input'", "not supported")),
    Bad("calls_random", (1.0,), K, "random.random()", "call", ("'random.random'",)),
    Bad("calls_np_random", (1.0,), K, "np.random.rand()", "call", ("'np.random.rand'",)),
    Bad("calls_bound_method", (1.0,), K, "HOLDER.scale(x)", "call", ("'HOLDER.scale'",)),
    Bad("calls_scipy_like", (1.0,), K, "SCIPY_LIKE.special.logaddexp(x, x)", "call",
        ("'SCIPY_LIKE.special.logaddexp'",)),
    Bad("calls_value", (1.0,), K, "y(1.0)", "call", ("f64 is not callable",)),
    Bad("unknown_name", (1.0,), C, "not_defined_anywhere", "unknown name",
        ("'not_defined_anywhere' is not defined",)),
    Bad("unknown_module_attribute", (1.0,), C, "math.no_such_function", "attribute",
        ("no attribute 'no_such_function'",)),
    Bad("unknown_array_method", (A1,), U, "a.tobytes()", "method call", ("'tobytes'",)),
    Bad("unknown_array_attribute", (A1,), U, "a.flags", "attribute", ("'flags'",)),
    Bad("scalar_method", (1.0,), U, "x.conjugate()", "method call", ("'conjugate'", "f64")),
    Bad("scalar_attribute", (1.0,), U, "x.imag", "attribute", ("'imag'", "f64")),
    Bad("passes_function", (1.0,), U, "helper(math, x)", "static argument",
        ("'math' cannot be passed as the argument 'a'",)),
    Bad("function_as_value", (1.0,), U, "return f", "static value", ("'math.sin'",)),
    Bad("starred_call", (1.0,), U, "*t)", "starred expressions (*args)", ("starred",)),
    Bad("double_star_call", (1.0,), U, "helper(**", "**kwargs", ("'**' in calls",)),
    Bad("helper_too_few", (1.0,), T, "helper(x)", "call", ("helper()", "missing", "'b'")),
    Bad("helper_too_many", (1.0,), T, "helper(x, x, x)", "call", ("helper()", "too many")),
    Bad("helper_bad_keyword", (1.0,), T, "helper(x, c=x)", "call",
        ("helper()", "unexpected keyword argument 'c'")),
    Bad("nested_too_many", (1.0,), T, "inner(x, x)", "call",
        ("inner() takes 1 positional argument(s) but 2 were given",)),
    Bad("too_many_math_args", (1.0,), T, "math.sin(x, x)", "math.sin", ("takes 1",)),
    Bad("unsupported_keyword", (A1,), U, "a > 0.0)", "np.sum", ("'where'",)),
    Bad("range_keyword", (3,), T, "range(n, step=2)", "range", ("1 to 3 positional",)),
    Bad("round_digits_variable", (2.567, 2), U, "round(x, nd)", "round",
        ("number of digits",)),
    Bad("float_of_array", (A1,), T, "float(a)", "conversion", ("float() of an array",)),
    Bad("int_of_array", (A1,), T, "int(a)", "conversion", ("int() of an array",)),
    Bad("reshape_no_shape", (A1,), T, "a.reshape()", "reshape", ("needs the new shape",)),
    Bad("zeros_empty_shape", (1.0,), T, "())", "shape", ("0-d array",)),
    # Indexing
    Bad("index_float", (1.0,), T, "x[0]", "indexing", ("f64 cannot be indexed",)),
    Bad("float_index", (A1, 1.0), T, "x]", "indexing", ("indices must be integers",)),
    Bad("fancy_index", (A1, np.array([0.5])), T, "a[idx]", "fancy indexing",
        ("arrays used as indices must be of integer or boolean type",)),
    Bad("too_many_indices", (A1,), T, "a[0, 1]", "indexing", ("too many indices",)),
    Bad("store_too_many_indices", (A1,), T, "a[0, 1] = 2.0", "setitem",
        ("too many indices",)),
    Bad("set_into_scalar", (1.0,), T, "x[0] = 1.0", "subscript assignment",
        ("not an array",)),
    Bad("newaxis", (A1,), U, "None, :]", "newaxis", ("newaxis",)),
    Bad("ellipsis_index", (A1,), U, "...]", "Ellipsis", ("'...'",)),
    Bad("assign_slice_of_slice", (A1.copy(),), U, "a[1:][0:1]", "chained subscript assignment",
        ("slice of a slice",)),
    Bad("tuple_index_variable", (1.0, 1), T, "i]", "tuple indexing", ("constant integer",)),
    Bad("tuple_index_range", (1.0,), T, "t[5]", "tuple indexing", ("out of range",)),
    # Names and types
    Bad("used_before_assignment", (1.0,), C, "z + x", "unbound variable",
        ("'z' is used before it is assigned",)),
    Bad("shadowed_global", (1.0,), C, "math.sin", "unbound variable",
        ("'math' is used before it is assigned",)),
    Bad("closure_reads_later", (1.0,), C, "inner()", "closure", ("'later'", "may be unbound")),
    Bad("one_branch_only", (1.0,), C, "y", "unbound variable", ("'y'", "some paths only")),
    Bad("loop_only", (1.0, 3), C, "t", "unbound variable", ("'t'", "may run zero times")),
    Bad("type_changes", (1.0, A1), T, "if x > 0.0", "type merge",
        ("'y' is f64 on one path and array<f64, 1> on another",)),
    Bad("returns_differ", (1.0, A1), T, "if x > 0.0", "type merge",
        ("returns f64 on one path and array<f64, 1> on another",)),
    Bad("recursion_without_base", (1.0,), T, "def recursion_without_base", "recursion",
        ("cannot infer the return type", "'recursion_without_base'")),
    Bad("range_float", (3.0,), T, "x)", "range", ("range() needs integers, got f64",)),
    Bad("iterate_scalar", (1.0,), T, "x:", "for loop", ("cannot iterate over", "f64")),
    Bad("unpack_too_many", (1.0,), T, "a, b, c", "unpacking",
        ("cannot unpack 2 values into 3 names",)),
    Bad("unpack_scalar", (1.0,), T, "a, b = x", "unpacking", ("cannot unpack", "f64")),
    Bad("aug_changes_shape", (A1.copy(), A2.copy()), T, "a += m", "augmented assignment",
        ("change the shape",)),
    Bad("global_array", (1.0,), U, "GLOBAL_ARRAY", "global array",
        ("'GLOBAL_ARRAY'", "pass it as an argument")),
    Bad("view_written_then_read", (A2.copy(),), C, "row[0] = 1.0", "aliased write",
        ("'row'", "'a'", "share memory")),
    Bad("aliasing_argument", (A2.copy(),), C, "row[1] = 5.0", "aliased write",
        ("argument 'a'",)),
    # Operators
    Bad("uses_is_not_none", (1.0, 2.0), U, "x is y", "'is'", ("only to compare with None",)),
    Bad("uses_in", (1.0, (1.0, 2.0)), U, "x in t", "comparison", ("'In'",)),
    Bad("shift_operator", (3,), U, "n << 2", "operator", ("'<<'",)),
    Bad("bitwise_ints", (3,), U, "n & 3", "bitwise operator", ("booleans only",)),
    Bad("tuple_times", (1.0,), U, "t * 2", "tuple operator", ("'*' on tuples",)),
    Bad("add_tuple_float", (1.0,), T, "t + x", "tuple +", ("cannot add a tuple and f64",)),
    Bad("float_compare_none", (1.0,), T, "x + None", "operator", ("'+' does not apply to none",)),
    Bad("array_truth", (A1,), T, "a:", "truth value", ("ambiguous",)),
    Bad("chained_array_compare", (A1,), U, "0.0 < a < 1.0", "chained comparison",
        ("chained comparisons of arrays",)),
    Bad("matmul_scalar_rank", (1.5,), T, "a @ a", "matmul", ("needs two arrays",)),
    # NumPy calls with bad arguments
    Bad("bad_dtype", (3,), T, "np.complex128", "dtype", ("unsupported dtype",)),
    Bad("float_shape", (3.0,), T, "x)", "shape", ("dimensions must be integers",)),
    Bad("reduce_bad_axis", (A1,), T, "np.sum(a, axis=3)", "sum", ("axis 3 out of range",)),
    Bad("nonconst_axis", (A1, 0), T, "k)", "axis", ("constant integer",)),
    Bad("empty_min", (1.0,), T, "[]", "min", ("empty sequence",)),
    Bad("np_array_scalar", (1.0,), U, "x)", "np.array", ("0-d array",)),
]


def check_error(e: CompileError, case: Bad) -> None:
    """The error's class, construct, message and rendering for `case`."""
    assert type(e) is case.error, f"{type(e).__name__}: {e}"
    assert e.construct == case.construct
    for phrase in case.phrases:
        assert phrase in e.message
    line = marker_line(case.name)
    assert os.path.samefile(e.loc.file, bf.__file__)
    assert e.loc.line == line
    source = SOURCE[line - 1]
    assert source[e.loc.col:].startswith(case.caret), (source, e.loc.col)
    header, shown, caret = str(e).splitlines()
    assert header == f"{e.loc.file}:{line}:{e.loc.col + 1}: {e.message}"
    assert shown == "    " + source
    assert caret == " " * (4 + e.loc.col) + "^"
    assert e.one_line() == header


@pytest.mark.parametrize("case", CASES, ids=str)
def test_compile_error(case):
    fn = getattr(bf, case.name)
    with pytest.raises(CompileError) as info:
        adjoin.differentiable(fn)(*case.args)
    check_error(info.value, case)


def test_every_marker_has_a_case():
    tested = {c.name for c in CASES} | {"star_kwargs"}
    marked = {m.group(1) for m in map(MARKER.search, SOURCE) if m}
    assert marked == tested
    assert len(CASES) >= 30


def test_kwargs_parameter_is_a_compile_error():
    # Through the compiler: the **kwargs parameter is named at its position.
    with pytest.raises(UnsupportedSyntax) as info:
        specialize(bf.star_kwargs, [F64])
    check_error(info.value, Bad("star_kwargs", (), U, "options", "**kwargs", ("**kwargs",)))


def test_kwargs_parameter_is_a_compile_error_when_called():
    with pytest.raises(UnsupportedSyntax):
        adjoin.differentiable(bf.star_kwargs)(1.0)


def test_errors_are_raised_again_on_every_call():
    f = adjoin.differentiable(bf.uses_try)
    for _ in range(2):
        with pytest.raises(UnsupportedSyntax):
            f(1.0)


def test_adjoin_ir_reports_the_same_error():
    with pytest.raises(UnknownCallee) as info:
        adjoin.ir(bf.calls_input, 1.0)
    assert info.value.loc.line == marker_line("calls_input")


def test_error_in_a_callee_points_into_the_callee(tmp_path):
    mod = load_module(tmp_path, "callee_err", """
        def inner(x):
            return {x, 1}

        def outer(x):
            return inner(x) + 1.0
        """)
    with pytest.raises(UnsupportedSyntax) as info:
        adjoin.differentiable(mod.outer)(1.0)
    assert info.value.loc.line == 3 and info.value.construct == "sets"


# ---------------------------------------------------------------------------
# Fixed behaviours that used to be silently wrong or crash: compare with CPython


def test_constant_defaults_still_work():
    f = adjoin.differentiable(bf.constant_defaults)
    for x in (1.5, -0.25):
        assert f(x) == bf.constant_defaults(x)


def test_builtin_conversions_of_scalars_still_work(tmp_path):
    mod = load_module(tmp_path, "conversions", """
        import numpy as np

        def conv(x, n, a):
            return float(n) + int(x) + bool(x) + round(x) + round(x, 0) + \\
                float(np.sum(a.astype(int)))
        """)
    f = adjoin.differentiable(mod.conv)
    for x, n in ((2.7, 3), (-1.5, -2), (0.0, 0)):
        a = np.array([1.5, 2.5])
        assert f(x, n, a) == mod.conv(x, n, a)


def test_deep_expression_compiles_and_matches(tmp_path):
    terms = " + ".join(f"x * {k}.0" for k in range(400))
    mod = load_module(tmp_path, "deep_expr", f"def deep(x):\n    return {terms}\n")
    f = adjoin.differentiable(mod.deep)
    assert f(0.5) == mod.deep(0.5)


def test_long_elif_chain_compiles_and_matches(tmp_path):
    lines = ["def chain(x):", "    if x < 0.0:", "        r = -x"]
    for k in range(1, 150):
        lines += [f"    elif x < {k}.0:", f"        r = x * {k}.5"]
    lines += ["    else:", "        r = 0.0", "    return r"]
    mod = load_module(tmp_path, "elif_chain", "\n".join(lines) + "\n")
    f = adjoin.differentiable(mod.chain)
    for x in (-3.0, 0.5, 77.25, 148.5, 1000.0):
        assert f(x) == mod.chain(x)


def test_code_nested_too_deeply_for_python_is_a_backend_error(tmp_path):
    # Flat in the source, but each early return puts the rest of the function into
    # an else branch, after an assignment, so no elif can flatten it.
    lines = ["def nest(x):", "    r = 0.0"]
    for k in range(120):
        lines += [f"    if x < {k}.0:", "        return r", f"    r = r + x * {k}.5"]
    lines += ["    return r"]
    mod = load_module(tmp_path, "nest", "\n".join(lines) + "\n")
    with pytest.raises(BackendError) as info:
        adjoin.differentiable(mod.nest)(1.0)
    assert info.value.construct == "nesting depth" and info.value.loc.line == 1
    assert "more than Python accepts" in info.value.message


def test_recursion_limit_is_a_compile_error(tmp_path, monkeypatch):
    import adjoin.frontend.specialize as sp
    monkeypatch.setattr(sp, "COMPILE_RECURSION_LIMIT", 0)  # keep the interpreter's limit
    # CPython compiles this 1000-term sum; parsing it with gast needs a deeper stack.
    mod = load_module(tmp_path, "too_deep", "def too_deep(x):\n    return " +
                      " + ".join(["x"] * 1000) + "\n")
    saved = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        with pytest.raises(CompileError) as info:
            adjoin.differentiable(mod.too_deep)(1.0)
        assert sys.getrecursionlimit() == 1000  # restored after compiling
    finally:
        sys.setrecursionlimit(saved)
    assert info.value.construct == "nesting depth" and "nested too deeply" in str(info.value)
    assert info.value.loc.line == 1


def load_module(tmp_path, name: str, text: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(text))
    spec = importlib.util.spec_from_file_location(f"errors_{name}_{id(tmp_path)}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------------
# Runtime argument errors of a compiled function


def python_error(fn, *args, **kwargs) -> TypeError:
    with pytest.raises(TypeError) as info:
        fn(*args, **kwargs)
    return info.value


@pytest.mark.parametrize("args,kwargs,words", [
    ((1.0,), {}, ("missing", "'y'")),
    ((), {}, ("missing", "'x'")),
    ((1.0, 2.0, 3.0), {}, ("too many",)),
    ((1.0,), {"y": 2.0, "z": 3.0}, ("unexpected keyword argument 'z'",)),
    ((1.0, 2.0), {"y": 3.0}, ("multiple values", "'y'")),
], ids=["missing-y", "missing-all", "too-many", "unknown-keyword", "twice"])
def test_wrong_arguments_raise_type_error_like_python(args, kwargs, words):
    python_error(bf.plain, *args, **kwargs)  # CPython raises TypeError too
    e = python_error(adjoin.differentiable(bf.plain), *args, **kwargs)
    assert str(e).startswith("plain()")
    for w in words:
        assert w in str(e)


def test_keywords_bind_like_python():
    f = adjoin.differentiable(bf.plain)
    assert f(y=3.0, x=2.0) == bf.plain(2.0, 3.0) == f(2.0, y=3.0)


class Opaque:
    pass


@pytest.mark.parametrize("fn,args,param,words", [
    (bf.plain, ("a", 1.0), "x", ("str",)),
    (bf.plain, ([1.0, "a"], 1.0), "x", ("[1] has unsupported type str",)),
    (bf.plain, ({"a": 1.0, 2: 1.0}, 1.0), "x", ("dict whose keys are not all strings",)),
    (bf.plain, (Opaque(), 1.0), "x", ("Opaque",)),
    (bf.plain, (1.0, 1 + 2j), "y", ("complex",)),
    (bf.plain, (1.0, np.complex128(1.0)), "y", ("complex128",)),
    (bf.plain, (1.0, 2 ** 70), "y", ("64 bits",)),
    (bf.plain, ((1.0, "s"), 1.0), "x", ("str",)),
    (bf.vector, (np.ones(3, dtype=np.uint8),), "a", ("uint8",)),
    (bf.vector, (np.ones(3, dtype=np.complex128),), "a", ("complex128",)),
    (bf.vector, (np.array(2.0),), "a", ("0-d array",)),
], ids=["str", "list", "dict", "object", "complex", "np-complex", "huge-int", "tuple-str",
        "uint8-array", "complex-array", "0d-array"])
def test_non_numeric_arguments_raise_clear_type_error(fn, args, param, words):
    e = python_error(adjoin.differentiable(fn), *args)
    text = str(e)
    assert f"argument '{param}' of {fn.__name__}()" in text
    for w in words:
        assert w in text


def test_bad_argument_does_not_poison_later_calls():
    f = adjoin.differentiable(bf.vector)
    python_error(f, np.ones(2, dtype=np.uint8))
    a = np.array([1.0, 2.0, 3.0])
    assert f(a) == bf.vector(a)


@pytest.mark.parametrize("source, hint", [
    ("np.nansum(x)", "the nearest function adjoin supports is np.sum"),
    ("np.nanmean(x)", "the nearest function adjoin supports is np.mean"),
    ("np.sum(np.sinc(x))", None),
])
def test_refused_numpy_functions_suggest_the_nearest_supported_one(tmp_path, source, hint):
    mod = load_module(tmp_path, "suggest", f"""
        import numpy as np

        def f(x):
            return {source}
        """)
    with pytest.raises(UnknownCallee) as info:
        adjoin.grad(mod.f)(np.ones(3))
    assert info.value.loc.line == 5 and info.value.loc.file == mod.__file__
    if hint is None:
        assert "nearest" not in str(info.value)
    else:
        assert hint in str(info.value)
