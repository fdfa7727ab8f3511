"""Unit tests of the IR layer: types, printer/parser round trip, parser errors,
the verifier's rules, and IR dumps around passes (ADJOIN_DUMP)."""
import importlib.util
import math
import re

import pytest

from adjoin.errors import IRParseError, VerifyError
from adjoin.ir import (ArrayType, BOOL, F32, F64, I64, NONE, TAPE, TupleType, parse_function,
                       parse_module, parse_type, print_function, print_module, verify_function,
                       verify_module)
from adjoin.ir.types import UNKNOWN, join


# ---------------------------------------------------------------------------
# Types

SCALAR_TYPES = [F64, F32, I64, BOOL, NONE]
ALL_TYPES = SCALAR_TYPES + [TAPE] + [
    ArrayType(d, n) for d in (F64, F32, I64, BOOL) for n in (1, 2, 3, 12)
] + [
    TupleType(()),
    TupleType((F64,)),
    TupleType((F64, I64, BOOL)),
    TupleType((ArrayType(F64, 2), F32)),
    TupleType((TupleType((I64, TupleType(()))), ArrayType(BOOL, 1), NONE)),
]


@pytest.mark.parametrize("t", ALL_TYPES, ids=str)
def test_type_text_round_trips(t):
    assert parse_type(str(t)) == t
    assert hash(parse_type(str(t))) == hash(t)


def test_type_text_forms():
    assert str(ArrayType(F32, 2)) == "array<f32, 2>"
    assert str(TupleType((F64, ArrayType(I64, 1)))) == "tuple<f64, array<i64, 1>>"
    assert parse_type("  tuple< f64 ,array< i64 ,1 > >  ") == TupleType((F64, ArrayType(I64, 1)))


@pytest.mark.parametrize("text", ["f65", "array<f64>", "array<f64, >", "array<f64, 1",
                                  "tuple<f64", "tuple<f64; i64>", "f64 f64", "boolean", ""])
def test_parse_type_rejects(text):
    with pytest.raises(ValueError):
        parse_type(text)


# The scalar order is bool < i64 < f32 < f64; none joins only with itself.
JOIN_TABLE = [
    (BOOL, BOOL, BOOL), (BOOL, I64, I64), (BOOL, F32, F32), (BOOL, F64, F64),
    (I64, I64, I64), (I64, F32, F32), (I64, F64, F64),
    (F32, F32, F32), (F32, F64, F64), (F64, F64, F64),
    (NONE, NONE, NONE), (NONE, F64, None), (NONE, BOOL, None), (TAPE, TAPE, TAPE),
    (TAPE, F64, None),
    (ArrayType(I64, 1), ArrayType(F64, 1), ArrayType(F64, 1)),
    (ArrayType(BOOL, 2), ArrayType(I64, 2), ArrayType(I64, 2)),
    (ArrayType(F64, 1), ArrayType(F64, 2), None),
    (ArrayType(F64, 1), F64, None),
    (TupleType((I64, F64)), TupleType((F64, F32)), TupleType((F64, F64))),
    (TupleType((I64,)), TupleType((I64, I64)), None),
    (TupleType((NONE,)), TupleType((F64,)), None),
    (TupleType((F64,)), F64, None),
    (UNKNOWN, F64, F64), (UNKNOWN, ArrayType(F64, 1), ArrayType(F64, 1)),
]


@pytest.mark.parametrize("a,b,want", JOIN_TABLE, ids=lambda t: str(t))
def test_join_table(a, b, want):
    assert join(a, b) == want
    assert join(b, a) == want  # join is symmetric


# ---------------------------------------------------------------------------
# Printer and parser round trip

# Every syntax form of the text format, in the printer's canonical layout.
ALL_FORMS = """\
func @helper(%x: f64) -> f64 {
  %y = mul %x, %x : f64
  return %y
}

func @main(%x: f64, %n: i64, %a: array<f64, 2>, %t: tape) -> f64 {
  %zero = const 0.0 : f64
  %big = const inf : f64
  %small = const -inf : f64
  %bad = const nan : f64
  %yes = const true : bool
  %no = const false : bool
  %nothing = const none : none
  %i0 = const 0 : i64
  %i1 = const 1 : i64
  %m3 = const -3 : i64
  %tiny = const -2.5e-10 : f64
  %u = undef : f64
  %e = getitem %a[%i0, %i1] : f64
  %row = getitem %a[%i0] : array<f64, 1>
  %s0 = getitem %row[:] : array<f64, 1>
  %s1 = getitem %row[%i0:] : array<f64, 1>
  %s2 = getitem %row[:%n] : array<f64, 1>
  %s3 = getitem %row[::%i1] : array<f64, 1>
  %s4 = getitem %row[%i0:%n] : array<f64, 1>
  %s5 = getitem %row[%i0::%i1] : array<f64, 1>
  %s6 = getitem %row[:%n:%i1] : array<f64, 1>
  %s7 = getitem %row[%i0:%n:%i1] : array<f64, 1>
  %col = getitem %a[:, %i1] : array<f64, 1>
  %a1 = setitem %a[%i0, %i1], %x : array<f64, 2>
  %a2 = setitem %a1[%i0:%n, :], %small : array<f64, 2>
  %a3 = setitem %a2[%i1], %s7 : array<f64, 2>
  %h = call @helper(%e) : f64
  %c = lt %x, %zero : bool
  %r = if %c -> f64 {
    %neg = neg %x : f64
    yield %neg
  } else {
    yield %x
  }
  assert %yes {msg = "say \\"hi\\" \\\\ bye"}
  %p, %q = if %no -> (f64, i64) {
    yield %x, %n
  } else {
    yield %zero, %m3
  }
  %tup = tuple %x, %n : tuple<f64, i64>
  %k = tuple_get %tup {index = 1} : i64
  %acc = for %i = %i0 to %n step %i1 iter(%s = %zero) -> f64 {
    %fi = convert %i {to = f64} : f64
    %s_next = add %s, %fi : f64
    yield %s_next
  }
  %same = for reversed %j = %i0 to %k step %i1 iter(%z = %x) -> f64 {
    push %t, %x, %j
    yield %z
  }
  %w = while iter(%v = %x) -> f64 {
    %more = lt %v, %big : bool
    condition %more
  } do (%v2) {
    %v3 = mul %v2, %h : f64
    yield %v3
  }
  %tot = sum %a3 : f64
  %rows = sum %a3 {axis = 0} : array<f64, 1>
  %pa, %pb = pop %t : f64, i64
  %out = add %w, %tot : f64
  return %out
}"""


def test_all_forms_round_trip_and_verify():
    m = parse_module(ALL_FORMS)
    verify_module(m)
    assert print_module(m) == ALL_FORMS
    assert print_module(parse_module(print_module(m))) == ALL_FORMS


def test_parsed_constants_and_attributes():
    f = parse_module(ALL_FORMS)["main"]
    consts = {op.results[0].name: op.attrs["value"] for op in f.walk() if op.name == "const"}
    assert consts["big"] == math.inf and consts["small"] == -math.inf
    assert math.isnan(consts["bad"])
    assert consts["yes"] is True and consts["no"] is False and consts["nothing"] is None
    assert consts["m3"] == -3 and isinstance(consts["m3"], int)
    assert consts["zero"] == 0.0 and isinstance(consts["zero"], float)
    assert consts["tiny"] == -2.5e-10
    ops = {op.name: op for op in f.walk()}
    assert ops["assert"].attrs["msg"] == 'say "hi" \\ bye'
    assert ops["tuple_get"].attrs["index"] == 1
    assert ops["convert"].attrs["to"] == F64
    fors = [op for op in f.walk() if op.name == "for"]
    assert fors[0].attrs == {} and fors[1].attrs == {"reversed": True}
    assert [op.attrs["index"] for op in f.walk() if op.name == "getitem"][:10] == [
        ("i", "i"), ("i",), ("s000",), ("s100",), ("s010",), ("s001",), ("s110",),
        ("s101",), ("s011",), ("s111",)]
    setitems = [op for op in f.walk() if op.name == "setitem"]
    assert setitems[1].attrs["index"] == ("s110", "s000")
    assert [r.type for r in ops["pop"].results] == [F64, I64]
    assert [len(r.blocks[0].args) for r in ops["while"].regions] == [1, 1]


def test_locations_round_trip():
    text = (
        'func @f(%x: f64) -> f64 loc("/src/a.py":3:0) {\n'
        "  %y = sin %x : f64 loc(4:8)\n"
        '  %z = cos %y : f64 loc("/src/b.py":10:2)\n'
        "  return %z loc(5:4)\n"
        "}")
    f = parse_function(text)
    ops = list(f.walk())
    assert (f.loc.file, f.loc.line, f.loc.col) == ("/src/a.py", 3, 0)
    assert (ops[0].loc.file, ops[0].loc.line, ops[0].loc.col) == ("/src/a.py", 4, 8)
    assert (ops[1].loc.file, ops[1].loc.line) == ("/src/b.py", 10)
    assert print_function(f, locs=True) == text
    assert print_function(f) == re.sub(r' loc\([^)]*\)', "", text)


def test_unnamed_values_print_as_numbers():
    text = ("func @f(%0: f64) -> f64 {\n"
            "  %1 = mul %0, %0 : f64\n"
            "  %x = add %1, %0 : f64\n"
            "  return %x\n"
            "}")
    f = parse_function(text)
    assert f.params[0].name == "" and f.params[0].type == F64
    assert print_function(f) == text


def test_printer_makes_clashing_hints_unique():
    f = parse_function("func @f(%x: f64) -> f64 {\n  %y = mul %x, %x : f64\n  return %y\n}")
    mul = next(iter(f.walk()))
    mul.results[0].name = "x"  # a second value hinted "x"
    text = print_function(f)
    assert "%x_1 = mul %x, %x : f64" in text and "return %x_1" in text
    verify_function(parse_function(text))


@pytest.mark.parametrize("form", ["if", "for", "while"])
def test_control_flow_without_results_round_trips(form):
    body = {
        "if": ("  if %c {\n    assert %c\n    yield\n  } else {\n    yield\n  }\n"),
        "for": ("  for %i = %n to %n step %n {\n    assert %c\n    yield\n  }\n"),
        "while": ("  while {\n    condition %c\n  } do () {\n    yield\n  }\n"),
    }[form]
    text = ("func @f(%c: bool, %n: i64) -> none {\n" + body +
            "  %r = const none : none\n  return %r\n}")
    f = parse_function(text)
    verify_function(f)
    assert print_function(f) == text


# ---------------------------------------------------------------------------
# Parser errors


def parse_error(text: str) -> IRParseError:
    with pytest.raises(IRParseError) as info:
        parse_module(text)
    return info.value


def test_parse_error_unknown_token():
    e = parse_error("func @f(%x: f64) -> f64 {\n  %y = add %x, %x : f64 $\n  return %y\n}")
    assert (e.line, e.col) == (2, 24)
    assert "unexpected character '$'" in str(e) and str(e).startswith("line 2, column 25")


def test_parse_error_undefined_value():
    e = parse_error("func @f(%x: f64) -> f64 {\n  %y = add %x, %zz : f64\n  return %y\n}")
    assert (e.line, e.col) == (2, 15)
    assert "undefined value %zz" in str(e)


def test_parse_error_value_defined_twice():
    e = parse_error("func @f(%x: f64) -> f64 {\n  %y = add %x, %x : f64\n"
                    "  %y = mul %x, %x : f64\n  return %y\n}")
    assert (e.line, e.col) == (3, 2)
    assert "%y defined twice" in str(e)


def test_parse_error_parameter_defined_twice():
    e = parse_error("func @f(%x: f64, %x: i64) -> f64 {\n  return %x\n}")
    assert (e.line, e.col) == (1, 17)
    assert "%x defined twice" in str(e)


def test_parse_error_missing_brace():
    e = parse_error("func @f(%x: f64) -> f64 {\n  %y = add %x, %x : f64\n  return %y\n")
    assert e.line == 4  # the end of the text, where '}' was due


def test_parse_error_missing_brace_of_nested_region():
    e = parse_error("func @f(%c: bool) -> f64 {\n  %r = if %c -> f64 {\n    %a = const 1.0 : f64\n"
                    "    yield %a\n  } else \n    %b = const 2.0 : f64\n    yield %b\n  }\n"
                    "  return %r\n}")
    assert (e.line, e.col) == (6, 4)
    assert "expected '{'" in str(e)


@pytest.mark.parametrize("text,line,col,found", [
    ("func @f(%x: f65) -> f64 {\n  return %x\n}", 1, 12, "f65"),
    ("func @f(%x: f64) -> f64 {\n  %y = add %x, %x : flt\n  return %y\n}", 2, 20, "flt"),
    ("func @f(%x: array<f64>) -> f64 {\n  return %x\n}", 1, 21, ">"),
    ("func @f(%x: tuple<f64, %x>) -> f64 {\n  return %x\n}", 1, 23, "%x"),
])
def test_parse_error_bad_type(text, line, col, found):
    e = parse_error(text)
    assert (e.line, e.col) == (line, col)
    assert f"(found '{found}')" in str(e)


def test_parse_error_result_count():
    e = parse_error("func @f(%x: f64) -> f64 {\n  %a, %b = add %x, %x : f64\n  return %a\n}")
    assert (e.line, e.col) == (2, 11)
    assert "defines 2 values but has 1 results" in str(e)


def test_parse_function_rejects_trailing_text():
    with pytest.raises(IRParseError) as info:
        parse_function("func @f(%x: f64) -> f64 {\n  return %x\n}\nfunc")
    assert info.value.line == 4 and "after the end of the function" in str(info.value)


# ---------------------------------------------------------------------------
# Verifier: each broken rule raises VerifyError naming it

GOOD = """\
func @f(%x: f64, %n: i64) -> f64 {
  %zero = const 0.0 : f64
  %c = lt %x, %zero : bool
  %r = if %c -> f64 {
    %m = neg %x : f64
    yield %m
  } else {
    yield %x
  }
  %y = add %r, %x : f64
  return %y
}"""


def verify_error(text: str, module: bool = False) -> str:
    if module:
        m = parse_module(text)
        with pytest.raises(VerifyError) as info:
            verify_module(m)
    else:
        f = parse_function(text)
        with pytest.raises(VerifyError) as info:
            verify_function(f)
    return str(info.value)


def test_verifier_accepts_the_base_function():
    verify_function(parse_function(GOOD))


def test_verify_use_before_definition():
    f = parse_function(GOOD)
    block = f.body.block
    add = next(op for op in block.ops if op.name == "add")
    block.ops.remove(add)
    block.insert(1, add)  # now before the if that defines its operand %r
    with pytest.raises(VerifyError) as info:
        verify_function(f)
    assert "'add'" in str(info.value) and "does not dominate" in str(info.value)


def test_verify_value_used_outside_its_region():
    msg = verify_error(GOOD.replace("%y = add %r, %x", "%y = add %r, %m"))
    assert "'add'" in msg and "%m does not dominate" in msg


def test_verify_value_of_other_branch():
    text = GOOD.replace("  } else {\n    yield %x", "  } else {\n    yield %m")
    msg = verify_error(text)
    assert "'yield'" in msg and "%m does not dominate" in msg


def test_verify_missing_terminator_in_function():
    f = parse_function(GOOD)
    f.body.block.ops[-1].erase()
    with pytest.raises(VerifyError) as info:
        verify_function(f)
    assert "must end in return, ends in add" in str(info.value)


def test_verify_missing_terminator_in_region():
    msg = verify_error(GOOD.replace("    yield %m\n", ""))
    assert "'if'" in msg and "must end in yield, ends in neg" in msg


def test_verify_terminator_in_the_middle():
    msg = verify_error(GOOD.replace("  %y = add", "  return %x\n  %y = add"))
    assert "'return'" in msg and "terminator in the middle of a block" in msg


def test_verify_yield_arity():
    msg = verify_error(GOOD.replace("yield %m", "yield %m, %x"))
    assert "branch yields: expected (f64), got (f64, f64)" in msg


def test_verify_yield_types():
    text = GOOD.replace("yield %m", "%k = convert %m {to = i64} : i64\n    yield %k")
    msg = verify_error(text)
    assert "branch yields: expected (f64), got (i64)" in msg


def test_verify_if_condition_not_bool():
    msg = verify_error(GOOD.replace("%r = if %c", "%r = if %x"))
    assert "'if'" in msg and "if takes one bool condition" in msg


LOOP = """\
func @g(%x: f64, %n: i64) -> f64 {
  %i0 = const 0 : i64
  %i1 = const 1 : i64
  %s = for %i = %i0 to %n step %i1 iter(%acc = %x) -> f64 {
    %a2 = mul %acc, %x : f64
    yield %a2
  }
  %w = while iter(%v = %s) -> f64 {
    %more = lt %v, %x : bool
    condition %more
  } do (%v2) {
    %v3 = add %v2, %x : f64
    yield %v3
  }
  return %w
}"""


def test_verifier_accepts_the_loops():
    verify_function(parse_function(LOOP))


def test_verify_for_bounds_not_i64():
    msg = verify_error(LOOP.replace("to %n step", "to %x step"))
    assert "'for'" in msg and "for takes i64 lower bound, upper bound and step" in msg


def test_verify_for_body_yield_types():
    msg = verify_error(LOOP.replace("yield %a2", "yield %i"))
    assert "body yields: expected (f64), got (i64)" in msg


def test_verify_while_condition_not_bool():
    msg = verify_error(LOOP.replace("condition %more", "condition %v"))
    assert "'condition'" in msg and "condition takes one bool" in msg


def test_verify_while_body_yield_arity():
    msg = verify_error(LOOP.replace("yield %v3", "yield"))
    assert "body yields: expected (f64), got ()" in msg


def test_verify_condition_outside_while():
    msg = verify_error(GOOD.replace("    yield %x\n", "    condition %c\n"))
    assert "must end in yield, ends in condition" in msg


MODULE = """\
func @sq(%x: f64) -> f64 {
  %y = mul %x, %x : f64
  return %y
}

func @main(%x: f64, %n: i64) -> f64 {
  %r = call @sq(%x) : f64
  return %r
}"""


def test_verifier_accepts_the_module():
    verify_module(parse_module(MODULE))


def test_verify_call_to_unknown_callee():
    msg = verify_error(MODULE.replace("call @sq", "call @cube"), module=True)
    assert "'call'" in msg and "unknown callee @cube" in msg
    # Without a module there is nothing to look the callee up in.
    verify_function(parse_module(MODULE.replace("call @sq", "call @cube"))["main"])


def test_verify_call_argument_types():
    msg = verify_error(MODULE.replace("call @sq(%x)", "call @sq(%n)"), module=True)
    assert "call arguments: expected (f64), got (i64)" in msg


def test_verify_call_argument_count():
    msg = verify_error(MODULE.replace("call @sq(%x)", "call @sq(%x, %x)"), module=True)
    assert "call arguments: expected (f64), got (f64, f64)" in msg


def test_verify_call_result_type():
    msg = verify_error(MODULE.replace("call @sq(%x) : f64", "call @sq(%x) : i64"), module=True)
    assert "call result: expected (f64), got (i64)" in msg


def test_verify_result_type_differs_from_typing_rule():
    msg = verify_error(GOOD.replace("%y = add %r, %x : f64", "%y = add %r, %x : i64"))
    assert "'add'" in msg and "result types: expected (f64), got (i64)" in msg


def test_verify_ill_typed_op():
    text = GOOD.replace("%y = add %r, %x : f64", "%y = and %c, %x : bool")
    msg = verify_error(text)
    assert "'and'" in msg and "ill-typed" in msg and "needs booleans" in msg


def test_verify_return_type_mismatch():
    msg = verify_error(GOOD.replace("return %y", "return %c"))
    assert "'return'" in msg and "returned value: expected (f64), got (bool)" in msg


def test_verify_unknown_op():
    msg = verify_error(GOOD.replace("%m = neg %x : f64", "%m = frobnicate %x : f64"))
    assert "'frobnicate'" in msg and "unknown op" in msg


def test_verify_names_the_function():
    msg = verify_error(GOOD.replace("return %y", "return %c"))
    assert msg.startswith("@f in 'return'")


# ---------------------------------------------------------------------------
# ADJOIN_DUMP


DUMPED = """\
def dumped_fn(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * i
    return s
"""


def test_dump_after_dce_prints_ir(tmp_path, monkeypatch, capfd):
    # A fresh module each time: a cached specialization would skip the passes.
    path = tmp_path / "dump_example.py"
    path.write_text(DUMPED)
    spec = importlib.util.spec_from_file_location(f"dump_example_{id(path)}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setenv("ADJOIN_DUMP", "after:dce")
    from adjoin.api import specialize
    f = specialize(mod.dumped_fn, [F64, I64])
    err = capfd.readouterr().err
    headers = re.findall(r"// ----- IR (\w+) (\w+) \(@(\w+)\) -----", err)
    assert headers and all(h == ("after", "dce", f.name) for h in headers)
    assert "before" not in err and "canonicalize" not in err
    # Each dump is the function's IR text: it parses and verifies.
    chunks = [c for c in re.split(r"// ----- IR [^\n]*\n", err) if c.strip()]
    assert len(chunks) == len(headers)
    for chunk in chunks:
        g = parse_function(chunk.strip())
        verify_function(g)
        assert g.name == f.name and [p.type for p in g.params] == [F64, I64]
    assert chunks[-1].strip() == print_function(f)


def test_no_dump_without_the_variable(tmp_path, monkeypatch, capfd):
    path = tmp_path / "nodump_example.py"
    path.write_text(DUMPED)
    spec = importlib.util.spec_from_file_location(f"nodump_example_{id(path)}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.delenv("ADJOIN_DUMP", raising=False)
    from adjoin.api import specialize
    specialize(mod.dumped_fn, [F64, I64])
    assert "----- IR" not in capfd.readouterr().err
