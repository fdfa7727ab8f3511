"""np.einsum(subscripts, *operands) as a chain of pairwise contractions.

Assumes: the subscripts are a string constant (a literal, or a global string); the
contraction pieces of `numpy_contractions` (`grouped`, `same_length`).
Guarantees: NumPy's result for explicit ('ij,jk->ik') and implicit ('ij,jk': the letters
found once, in alphabetical order) subscripts: letters of one operand only that the output
lacks are summed first; then operands are contracted left to right, a letter shared by the
pair being a batch axis when a later operand or the output still needs it and summed
otherwise (one batched matmul per pair); the output is a transpose of the last result, or
its sum for no output letters (a NumPy scalar). A single operand gives a view where it
only reorders axes. Errors in the subscripts are TypingErrors at the call; '...' and
letters repeated within an operand are UnsupportedSyntax.
"""
from __future__ import annotations

from typing import List, Set, Tuple

import gast
import numpy as np

from ..errors import TypingError, UnsupportedSyntax
from ..ir.core import Value
from ..ir.types import ArrayType
from .numpy_axes import reduce_axes
from .primitives import _view, fresh, numpy_result, prim

Term = Tuple[Value, str]  # an operand and its letters, one per axis ("" for a scalar)


def _subscripts(tr, node) -> str:
    if isinstance(node, gast.Constant) and isinstance(node.value, str):
        return node.value
    obj = getattr(tr.expr(node), "obj", None)
    if isinstance(obj, str):
        return obj
    raise TypingError("einsum's subscripts must be a string constant", tr.loc(node), "einsum")


def parse(tr, text: str, terms_count: int, node) -> Tuple[List[str], str]:
    """The letters of each operand and of the output."""
    text = text.replace(" ", "")
    if "." in text:
        raise UnsupportedSyntax("einsum with '...' is not supported by adjoin", tr.loc(node),
                                "einsum")
    lhs, arrow, out = text.partition("->")
    ins = lhs.split(",")
    letters = [c for c in lhs if c != ","]
    if not all(c.isalpha() for c in letters + list(out)) or "-" in out or ">" in out:
        raise TypingError(f"einsum subscripts {text!r} are not letters, commas and one '->'",
                          tr.loc(node), "einsum")
    if len(ins) != terms_count:
        raise TypingError(f"einsum subscripts name {len(ins)} operand(s), given "
                          f"{terms_count}", tr.loc(node), "einsum")
    for term in ins:
        if len(set(term)) != len(term):
            raise UnsupportedSyntax(f"einsum with a letter repeated in one operand ({term!r}: "
                                    "a trace or diagonal) is not supported; use np.trace or "
                                    "np.diag", tr.loc(node), "einsum")
    if not arrow:
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(out)) != len(out) or any(c not in letters for c in out):
        raise TypingError(f"einsum output {out!r} repeats a letter or names one no operand "
                          "has", tr.loc(node), "einsum")
    return ins, out


@prim(np.einsum)
def _einsum(tr, node):
    if node.keywords:
        raise UnsupportedSyntax("einsum() with keywords is not supported by adjoin",
                                tr.loc(node.keywords[0].value), "einsum")
    if not node.args:
        raise TypingError("einsum() needs subscripts", tr.loc(node), "einsum")
    text = _subscripts(tr, node.args[0])
    values = [tr.value(a) for a in node.args[1:]]
    return einsum_values(tr, text, values, node)


def einsum_values(tr, text: str, values: List[Value], node) -> Value:
    ins, out = parse(tr, text, len(values), node)
    terms: List[Term] = []
    for v, letters in zip(values, ins):
        ndim = v.type.ndim if isinstance(v.type, ArrayType) else 0
        if ndim != len(letters):
            raise TypingError(f"einsum operand {letters!r} has {ndim} dimension(s), not "
                              f"{len(letters)}", tr.loc(node), "einsum")
        terms.append((v, letters))
    if len(terms) == 1:
        return _single(tr, terms[0], out, node)
    terms = [_sum_out(tr, t, _needed(terms, k, out), node) for k, t in enumerate(terms)]
    acc = terms[0]
    for k in range(1, len(terms)):
        later = set(out).union(*[set(t[1]) for t in terms[k + 1:]])
        acc = _pair(tr, acc, terms[k], later, node)
    return _finish(tr, acc, out, node)


def _needed(terms: List[Term], k: int, out: str) -> Set[str]:
    """The letters that the output or another operand than term k has."""
    return set(out).union(*[set(t[1]) for j, t in enumerate(terms) if j != k])


def _sum_out(tr, term: Term, keep: Set[str], node) -> Term:
    """The term with its letters outside `keep` summed over."""
    v, letters = term
    axes = tuple(k for k, c in enumerate(letters) if c not in keep)
    if not axes:
        return term
    r = reduce_axes(tr, "sum", v, axes, node)
    return r, "".join(c for c in letters if c in keep)


def _single(tr, term: Term, out: str, node) -> Value:
    v, letters = term
    if not out:
        return numpy_result(tr, reduce_axes(tr, "sum", v, None, node)) \
            if letters else numpy_result(tr, v)
    summed = _sum_out(tr, term, set(out), node)
    r = _ordered(tr, summed, out)
    return _view(tr, r, v) if summed[0] is v else fresh(tr, r)


def _ordered(tr, term: Term, out: str) -> Value:
    v, letters = term
    perm = tuple(letters.index(c) for c in out)
    return v if perm == tuple(range(len(perm))) else tr.b.emit("transpose", v, axes=perm)


def _pair(tr, a: Term, b: Term, later: Set[str], node) -> Term:
    from .numpy_contractions import grouped, same_length
    (x, la), (y, lb) = a, b
    x, y = tr.promote(x, y)
    a, b = _sum_out(tr, (x, la), later | set(lb), node), _sum_out(tr, (y, lb), later | set(la),
                                                                    node)
    (x, la), (y, lb) = a, b
    if not la or not lb:  # a scalar operand: a product
        return tr.b.emit("mul", x, y), la or lb
    shared = [c for c in la if c in lb]
    for c in shared:
        same_length(tr, tr.b.emit("dim", x, axis=la.index(c)),
                    tr.b.emit("dim", y, axis=lb.index(c)))
    batch = [c for c in shared if c in later]
    summed = [c for c in shared if c not in later]
    free_a = [c for c in la if c not in shared]
    free_b = [c for c in lb if c not in shared]
    if not batch and not free_a and not free_b:  # every letter summed: a scalar
        return tr.b.emit("sum", tr.b.emit("mul", x, _ordered(tr, (y, lb), la))), ""
    ia = [[la.index(c)] for c in batch] + [[la.index(c) for c in free_a],
                                           [la.index(c) for c in summed]]
    ib = [[lb.index(c)] for c in batch] + [[lb.index(c) for c in summed],
                                           [lb.index(c) for c in free_b]]
    r = tr.b.emit("matmul", grouped(tr, x, ia), grouped(tr, y, ib))
    letters = "".join(batch + free_a + free_b)
    if len(free_a) == 1 and len(free_b) == 1:
        return r, letters
    dims = [tr.b.emit("dim", x, axis=la.index(c)) for c in batch + free_a] + \
        [tr.b.emit("dim", y, axis=lb.index(c)) for c in free_b]
    return tr.b.emit("reshape", r, *dims), letters


def _finish(tr, acc: Term, out: str, node) -> Value:
    v, letters = acc
    if not out:
        return numpy_result(tr, tr.b.emit("sum", v) if letters else v)
    return fresh(tr, _ordered(tr, _sum_out(tr, acc, set(out), node), out))
