"""Random programs with their loops checkpointed: the same values, exceptions and gradients.

Programs from tests/progen.py (loops with branches, nested loops, element writes into the
array argument, early exits, tuple returns) are rewritten so that every `for ... in
range(...)` becomes `for ... in adjoin.checkpointed(range(...), snapshots=k)` and every
`while c:` becomes `while adjoin.checkpointed(c, snapshots=k)`, with k drawn from 1 to 4
for each loop. On the python and llvm backends, the rewritten program must return what
the original returns (and write the same values into its array argument), raise the same
exception type, and give the same gradient or pullback. A loop left by `break` or `return`
must be refused at compile time with adjoin.TypingError.
"""
import ast

import numpy as np
import pytest
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st

import adjoin
from adjoin.errors import BackendError, TypingError

from hunting import SETTINGS, examples
from progen import Program, arguments, programs
from test_property import copied, load, progdir, same  # noqa: F401  (progdir is a fixture)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


class _Mark(ast.NodeTransformer):
    def __init__(self, draw):
        self.draw, self.count = draw, 0

    def _wrap(self, node: ast.expr) -> ast.expr:
        self.count += 1
        k = self.draw(st.integers(1, 4), label="snapshots")
        return ast.Call(func=ast.Attribute(ast.Name("adjoin", ast.Load()), "checkpointed",
                                           ast.Load()),
                        args=[node], keywords=[ast.keyword("snapshots", ast.Constant(k))])

    def visit_For(self, node):
        self.generic_visit(node)
        it = node.iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range":
            node.iter = self._wrap(it)
        return node

    def visit_While(self, node):
        self.generic_visit(node)
        node.test = self._wrap(node.test)
        return node


def checkpointed(source: str, draw) -> tuple:
    tree = ast.parse(source)
    mark = _Mark(draw)
    tree = mark.visit(tree)
    tree.body.insert(0, ast.Import([ast.alias("adjoin")]))
    return ast.unparse(ast.fix_missing_locations(tree)), mark.count


def _outcome(fn, args):
    try:
        return "value", fn(*args)
    except adjoin.CompileError:
        raise
    except Exception as e:  # noqa: BLE001  (the type is what is compared)
        return "raised", type(e)


def _gradient(fn, args, wrt):
    out, pb = adjoin.vjp(fn, *args)
    ct = tuple(1.0 + 0.5 * k for k in range(len(out))) if isinstance(out, tuple) else 1.0
    got = pb(ct)
    return [got[i] for i in wrt]


@settings(max_examples=examples(20), **SETTINGS)
@given(prog=programs(), data=st.data())
def test_checkpointed_programs_match(progdir, prog: Program, data):
    source, loops = checkpointed(prog.source, data.draw)
    assume(loops > 0)
    note(source)
    plain = load(prog.source, progdir)
    marked = load(source, progdir)
    wrt = [i for i, p in enumerate(prog.params) if p != "n"]
    for backend in ("python", "llvm"):
        f0 = adjoin.differentiable(plain, backend=backend)
        f1 = adjoin.differentiable(marked, backend=backend)
        for k in range(2):
            args = data.draw(arguments(prog, extreme=30 if k else 0), label="args")
            a0, a1 = copied(args), copied(args)
            try:
                want = _outcome(f0, a0)
                got = _outcome(f1, a1)
            except TypingError as e:
                assert "break or return" in str(e), e
                event("refused: a checkpointed loop left early")
                return
            except BackendError:
                assume(False)
            assert got[0] == want[0] and (same(got[1], want[1]) if got[0] == "value"
                                          else got[1] is want[1]), (backend, got, want)
            for x, y in zip(a1, a0):
                assert same(x, y)
            if want[0] != "value" or not wrt:
                continue
            try:
                g0 = _gradient(f0, copied(args), wrt)
            except Exception:  # noqa: BLE001  (no gradient to compare with)
                continue
            g1 = _gradient(f1, copied(args), wrt)
            for x, y in zip(g1, g0):
                np.testing.assert_allclose(np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                                           rtol=1e-12, atol=1e-12)
            event(f"compared on {backend}")
