"""Elementwise fusion: a tree of array ops computed in one loop, without temporaries.

Assumes: a block of a function prepared for the backend (in-place writes marked);
elementwise ops broadcast like NumPy (arrays.elementwise).
Guarantees: `plan(block, uses)` picks trees of elementwise ops with array results
where each inner op's result has exactly one use, by its parent in the same
block, and no op between them has regions or writes an array in place (so every
leaf holds, where the root runs, the value it held where its consumer ran).
`emit(lw, root, tree)` computes the whole tree per element in one flat loop over
the root's shape, every array leaf broadcast to that shape: the same scalar ops in
the same order as op-by-op lowering, and the same shape errors, because
broadcasting leaves step by step or all at once to the final shape agrees (each
dimension is the one size other than 1 among the operands, when they agree).
Trees are outlined into helpers shared by identical trees, like single ops.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

from llvmlite import ir

from ...ir.core import Block, Op, Value
from ...ir.ops import OPS
from ...ir.types import ArrayType
from .runtime_ir import CTXP
from .types import lltype

MAX_NODES = 24  # bigger trees are cut (one loop each), keeping helpers small


def fusable(op: Op) -> bool:
    if len(op.results) != 1 or op.regions or not isinstance(op.result.type, ArrayType):
        return False
    d = OPS.get(op.name)
    return op.name == "convert" or (d is not None and "elementwise" in d.tags)


def count_uses(ops) -> Dict[int, int]:
    uses: Dict[int, int] = {}
    for op in ops:
        for v in op.operands:
            uses[id(v)] = uses.get(id(v), 0) + 1
    return uses


def _barrier(op: Op) -> bool:
    """An op across which a leaf's memory might change."""
    return bool(op.regions) or (op.name in ("setitem", "addat") and op.attrs.get("inplace")) \
        or bool(op.attrs.get("into"))  # a call adding into an operand (accumulate_into.py)


def plan(blk: Block, uses: Dict[int, int]) -> Tuple[Dict[int, "Node"], set]:
    """(trees by id of their root op, ids of the ops absorbed into a tree)."""
    ops = blk.ops
    pos = {id(op): i for i, op in enumerate(ops)}
    barriers = [i for i, op in enumerate(ops) if _barrier(op)]
    parent: Dict[int, Op] = {}
    for j, op in enumerate(ops):
        if not fusable(op):
            continue
        for v in op.operands:
            prod = getattr(v, "op", None)
            if prod is None or id(prod) not in pos or not fusable(prod) or \
                    uses.get(id(v), 0) != 1:
                continue
            i = pos[id(prod)]
            if not any(i < k < j for k in barriers):
                parent[id(prod)] = op
    roots: Dict[int, Node] = {}
    absorbed: set = set()
    for op in ops:
        if fusable(op) and id(op) not in parent:
            tree = Node.build(op, parent, [0])
            if tree.children_fused():
                roots[id(op)] = tree
                absorbed |= tree.inner_ids()
    return roots, absorbed


class Node:
    """One op of a tree; its operands are Nodes (fused ops) or Values (leaves)."""

    def __init__(self, op: Op, args: List[Union["Node", Value]]):
        self.op, self.args = op, args

    @staticmethod
    def build(op: Op, parent: Dict[int, Op], count: List[int]) -> "Node":
        count[0] += 1
        args: List[Union[Node, Value]] = []
        for v in op.operands:
            prod = getattr(v, "op", None)
            if prod is not None and parent.get(id(prod)) is op and count[0] < MAX_NODES:
                args.append(Node.build(prod, parent, count))
            else:
                args.append(v)
        return Node(op, args)

    def children_fused(self) -> bool:
        return any(isinstance(a, Node) for a in self.args)

    def inner_ids(self) -> set:
        out = set()
        for a in self.args:
            if isinstance(a, Node):
                out |= {id(a.op)} | a.inner_ids()
        return out

    def leaves(self) -> List[Value]:
        out: List[Value] = []
        for a in self.args:
            out += a.leaves() if isinstance(a, Node) else [a]
        return out

    def key(self) -> tuple:
        from .lower import _frozen
        return (self.op.name, _frozen(self.op.attrs), str(self.op.result.type),
                tuple(a.key() if isinstance(a, Node) else str(a.type) for a in self.args))


def emit(lw, root: Op, tree: Node) -> None:
    """Lower the tree at `root` (a call of the helper computing it)."""
    leaves = tree.leaves()
    key = ("fused", tree.key())
    fn = lw.ml.helpers.get(key)
    if fn is None:
        fnty = ir.FunctionType(lltype(root.result.type), [CTXP] + [lltype(v.type) for v in leaves])
        fn = ir.Function(lw.ml.m, fnty, f"adjoin.fused.{len(lw.ml.helpers)}")
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        lw.ml.helpers[key] = fn
        _define(lw, fn, tree, leaves)
    lw.set(root.result, lw.call_helper(fn, [lw.get(v) for v in leaves], root.result.type))


def _define(lw, fn: ir.Function, tree: Node, leaves: List[Value]) -> None:
    """The helper's body. Leaves are bound by position, never by identity: another
    tree of the same shape (sharing this helper) may pass distinct values where this
    one passes one value twice."""
    from . import arrays, scalar
    from .lower import FunctionLowering
    sub = FunctionLowering(lw.ml, lw.f, fn)
    b = sub.b
    rt = tree.op.result.type
    arrs: List[Optional[arrays.Arr]] = []
    for v, d in zip(leaves, fn.args[1:]):
        arrs.append(arrays.Arr(v.type, b.extract_value(d, 0),
                               [b.extract_value(d, [1, k]) for k in range(v.type.ndim)],
                               [b.extract_value(d, [2, k]) for k in range(v.type.ndim)])
                    if isinstance(v.type, ArrayType) else None)
    shape = arrays.broadcast_shape(sub, [a for a in arrs if a is not None], rt.ndim)
    dense = [arrays.dense_as(sub, a, shape) if a is not None else None for a in arrs]
    out = arrays.alloc(sub, rt, shape)

    def value(node: Node, k, at: List[int]) -> ir.Value:
        args = []
        for a in node.args:
            if isinstance(a, Node):
                args.append((value(a, k, at), a.op.result.type.dtype))
                continue
            i = at[0]
            at[0] += 1
            if dense[i] is not None:
                args.append((arrays.load(sub, dense[i], k), a.type.dtype))
            else:
                args.append((fn.args[1 + i], a.type))
        sub.in_array, sub.op_name = True, node.op.name
        r = scalar.emit(sub, node.op.name, args, node.op.result.type.dtype, node.op.attrs)
        sub.in_array = False
        return r
    arrays.counted(sub, arrays.product(b, shape),
                   lambda k: arrays.store(sub, out, k, value(tree, k, [0])), "flat")
    packed = arrays.pack(sub, out)
    if id(packed) in sub.fresh:
        lw.ml.fresh_helpers.add(fn.name)
    b.ret(packed)
