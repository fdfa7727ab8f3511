"""Golden IR: the printed typed SSA IR of five corpus functions, kept as text.

The expected text lives in tests/golden/<name>.ir. Each file was checked by hand
when written (one function per construct: a counted loop, an if/elif chain, an
early return out of a loop, array writes in a loop, calls to a helper), and a
second test runs the golden text itself through the Python backend, so a golden
file that computes the wrong thing fails even if it matches the printer.

After an intended change to the frontend, the passes or the printer, regenerate:

    ADJOIN_REGOLD=1 python -m pytest tests/test_ir_golden.py

then review the diff of tests/golden/*.ir like any code change.
"""
import difflib
import os

import numpy as np
import pytest

import adjoin
from adjoin.backends.python import compile_module
from adjoin.ir import parse_module, print_module, verify_module

import corpus as c

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
CASES = [
    (c.for_range, (0.5, 4)),
    (c.piecewise_if_elif, (1.5,)),
    (c.first_index_above, (np.array([0.5, 1.5, 3.0]), 1.0)),
    (c.cumulative_sum, (np.array([1.0, 2.0, 3.0]),)),
    (c.call_helper_function, (1.0, 4.0)),
]


def _path(fn) -> str:
    return os.path.join(GOLDEN, f"{fn.__name__}.ir")


def _golden(fn) -> str:
    with open(_path(fn)) as fh:
        return fh.read()


@pytest.mark.parametrize("fn,args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_ir_matches_golden(fn, args):
    text = adjoin.ir(fn, *args) + "\n"
    if os.environ.get("ADJOIN_REGOLD"):
        with open(_path(fn), "w") as fh:
            fh.write(text)
    want = _golden(fn)
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                            f"golden/{fn.__name__}.ir", "adjoin.ir()"))
        pytest.fail(f"the IR of {fn.__name__} changed (ADJOIN_REGOLD=1 rewrites the golden "
                    f"file):\n{diff}")


@pytest.mark.parametrize("fn,args", CASES, ids=[fn.__name__ for fn, _ in CASES])
def test_golden_ir_computes_what_cpython_computes(fn, args):
    """The golden text parses, verifies, prints back unchanged, and runs correctly."""
    module = parse_module(_golden(fn))
    verify_module(module)
    assert print_module(module) + "\n" == _golden(fn)
    compiled = compile_module(module, fn.__name__).fn
    args_copy = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got, want = compiled(*args_copy), fn(*args)
    if isinstance(want, np.ndarray):
        np.testing.assert_array_equal(got, want)
    else:
        assert got == want and type(got) is type(want)
