"""Golden adjoint source: the generated gradient code of five functions.

The expected text lives in tests/golden/<name>.grad.py.txt (the header comment,
which names this machine's path, is left out). After an intended change to code
generation, regenerate with `ADJOIN_REGOLD=1 python -m pytest tests/test_adjoint_golden.py`
and review the diff like any code change.
"""
import difflib
import os

import numpy as np
import pytest

import adjoin

import golden_fns as g

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
CASES = [
    ("loop_sum", g.loop_sum, (0.3, 5), 0),
    ("branch", g.branch, (1.0, 2.0), (0, 1)),
    ("newton_sqrt", g.newton_sqrt, (2.0,), 0),
    ("power", g.power, (1.1, 5), 0),
    ("smooth", g.smooth, (np.linspace(0.0, 1.0, 5), 0.5), (0, 1)),
]


def _body(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("# ")).strip() + "\n"


@pytest.mark.parametrize("name,fn,args,wrt", CASES, ids=[c[0] for c in CASES])
def test_adjoint_source_matches_golden(name, fn, args, wrt):
    text = _body(adjoin.adjoint_source(fn, *args, wrt=wrt))
    path = os.path.join(GOLDEN, f"{name}.grad.py.txt")
    if os.environ.get("ADJOIN_REGOLD"):
        with open(path, "w") as fh:
            fh.write(text)
    with open(path) as fh:
        want = fh.read()
    if text != want:
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                            "golden", "generated"))
        pytest.fail(f"generated gradient of {name} changed:\n{diff}")


@pytest.mark.parametrize("name,fn,args,wrt", CASES, ids=[c[0] for c in CASES])
def test_golden_source_runs_standalone(name, fn, args, wrt):
    """The printed text, executed on its own, computes the same gradient."""
    source = adjoin.adjoint_source(fn, *args, wrt=wrt)
    namespace = {}
    exec(compile(source, f"<{name}_grad>", "exec"), namespace)
    entry = [v for k, v in namespace.items() if k.startswith(name + "_grad")][0]
    got = entry(*args)
    want = adjoin.grad(fn, wrt=wrt)(*args)
    np.testing.assert_allclose(np.array(got, dtype=object).astype(float) if not
                               isinstance(got, tuple) else np.hstack(got),
                               np.hstack(want) if isinstance(want, tuple) else want)
