"""Random programs whose meaning depends on how functions are made and called.

Assumes: hypothesis is installed; the caller writes `CallerProgram.source` to a file and
imports it (tests/test_property_callers.py).
Guarantees: `caller_programs()` draws a `CallerProgram`, a module whose functions
`entries` (names) each take float `x` (and arrays where `arrays` says so), built by one
of these patterns, with bodies drawn by tests/progen.py's expression generator:
- "alias": `f(a, b, x)` writes into `a` and reads `b`; `calls` lists the ways to pass
  arrays: the same array twice, overlapping views (which adjoin may refuse with a
  CompileError saying the arguments share memory), disjoint views, independent arrays;
- "factory": closures made by one factory with different captured numbers (and a
  captured array), some of them rebinding a captured name after the `def`, so that the
  value read at call time differs from the value at definition;
- "lambdas": several lambdas on one line (tuple and list targets), each its own code;
- "decorated": functions under decorators made with `functools.wraps` whose wrappers
  change the arguments and the result, stacked, and a decorator that returns the
  function itself;
- "names": module constants and enclosing names passed as call arguments (in a loop, at
  the top of the body, from a nested function): only bindings make a name local, so none
  of them may be taken for a local read before assignment.
CPython's result for each entry is the reference: compiling one function must never
run another's code.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Tuple

import numpy as np
from hypothesis import strategies as st

from progen import CLAMP, Scope, _Gen

IND = "    "


@dataclass
class CallerProgram:
    source: str
    pattern: str
    entries: List[str]
    # per entry: argument builders, each (description, fn(x, A) -> args tuple)
    calls: List[Tuple[str, Callable]] = field(default_factory=list)


def _expr(draw, names: List[str], arrays: List[str] = ()) -> str:
    """A random float expression over `names` (and reads of `arrays`)."""
    gen = _Gen(draw, list(names), False, list(arrays), 1, max_stmts=2)
    return gen.fexpr(Scope(list(names), []), 2)


def _alias(draw) -> CallerProgram:
    gen = _Gen(draw, ["x"], False, ["a", "b"], 1, max_stmts=2)
    sc = Scope(["x"], [])
    body = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 3))
        target = draw(st.sampled_from(["a", "b"])) if kind == 3 else "a"
        idx = gen.index(sc, target)
        if kind <= 1:
            body.append(f"{target}[{idx}] = {CLAMP.format(gen.fexpr(sc, 1))}")
        elif kind == 2:
            body.append(f"{target}[{idx}] += {gen.bounded(sc)}")
        else:
            name = gen.fresh("v")
            body.append(f"{name} = {gen.fexpr(sc, 1)}")
            sc.floats.append(name)
    body.append(f"return {gen.fexpr(sc, 2)} + b[{gen.index(sc, 'b')}]")
    src = "def f(a, b, x):\n" + "\n".join(IND + ln for ln in body) + "\n"
    # Partly overlapping views may be refused (adjoin models one array per value):
    # their descriptions start with "overlapping".
    calls = [
        ("same array twice", lambda x, A: (A, A, x)),
        ("overlapping views", lambda x, A: (A[1:], A[:-1], x)),
        ("overlapping, reversed", lambda x, A: (A, A[::-1], x)),
        ("disjoint views", lambda x, A: (A[::2], A[1::2], x)),
        ("independent arrays", lambda x, A: (A, A.copy(), x)),
    ]
    return CallerProgram(src, "alias", ["f"], calls)


def _factory(draw) -> CallerProgram:
    k_uses = _expr(draw, ["x", "k", "c"], ["arr"])
    rebind = draw(st.booleans())
    lines = ["def make(k, c, arr):",
             f"{IND}def inner(x):",
             f"{IND}{IND}return {k_uses}"]
    if rebind:
        lines.append(f"{IND}k = k * 2.0 + 1.0   # read by inner at call time")
    lines.append(f"{IND}return inner")
    count = draw(st.integers(2, 4))
    made = []
    for i in range(count):
        k, c = draw(st.sampled_from([0.5, -1.0, 2.0, 3.0, 0.0])), float(i + 1)
        made.append(f"f{i} = make({k}, {c}, np.array([{k}, {c}, -{c}]))")
    src = "\n".join(lines) + "\n\n\n" + "\n".join(made) + "\n"
    return CallerProgram(src, "factory", [f"f{i}" for i in range(count)])


def _lambdas(draw) -> CallerProgram:
    count = draw(st.integers(2, 3))
    bodies = [_expr(draw, ["x"]) for _ in range(count)]
    tuple_form = draw(st.booleans())
    names = [f"L{i}" for i in range(count)]
    if tuple_form:
        src = f"{', '.join(names)} = " + ", ".join(f"(lambda x: {b})" for b in bodies) + "\n"
    else:
        src = "LS = [" + ", ".join(f"lambda x: {b}" for b in bodies) + "]\n" + \
            "\n".join(f"{n} = LS[{i}]" for i, n in enumerate(names)) + "\n"
    return CallerProgram(src, "lambdas", names)


def _decorated(draw) -> CallerProgram:
    inner = _expr(draw, ["x"])
    change = draw(st.sampled_from(["fn(x) + 100.0", "fn(x * 2.0) - x", "2.0 * fn(x + 0.5)"]))
    stacked = draw(st.booleans())
    src = (
        "def shift(fn):\n"
        f"{IND}@functools.wraps(fn)\n"
        f"{IND}def wrapper(x):\n"
        f"{IND}{IND}return {change}\n"
        f"{IND}return wrapper\n\n\n"
        "def same(fn):\n"
        f"{IND}return fn\n\n\n"
        + ("@same\n@shift\n" if stacked else "@shift\n")
        + f"def g(x):\n{IND}return {inner}\n\n\n"
        f"@same\ndef h(x):\n{IND}return g(x) * 0.5\n"
    )
    return CallerProgram(src, "decorated", ["g", "h"])


def _names(draw) -> CallerProgram:
    step = _expr(draw, ["u", "d"])
    dt, scale = draw(st.sampled_from([0.1, 0.5, -0.3])), draw(st.sampled_from([2.0, -1.5]))
    trips = draw(st.integers(0, 3))
    nested = draw(st.booleans())
    lines = [f"DT = {dt}", f"SCALE = {scale}", "", "",
             "def step(u, d):", f"{IND}return {CLAMP.format(step)}", "", "",
             "def f(x):", f"{IND}y = step(x, SCALE)",
             f"{IND}for k in range({trips}):", f"{IND}{IND}y = step(y, DT)"]
    if nested:
        lines += [f"{IND}c = x * 0.5", f"{IND}def inner(v):", f"{IND}{IND}return step(v, c)",
                  f"{IND}y = y + inner(DT)"]
    lines.append(f"{IND}return y")
    return CallerProgram("\n".join(lines) + "\n", "names", ["f"])


@st.composite
def caller_programs(draw) -> CallerProgram:
    """A module of functions made and called in one of the patterns above."""
    make = draw(st.sampled_from([_alias, _factory, _lambdas, _decorated, _names]))
    prog = make(draw)
    prog.source = "import functools\nimport math\n\nimport numpy as np\n\n\n" + prog.source
    return prog


ARRAYS = st.lists(st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False),
                  min_size=2, max_size=6).map(lambda v: np.array(v, dtype=np.float64))
