"""The IR's data structures: values, ops, blocks, regions, functions, modules.

Assumes: nothing beyond `types` and `errors`.
Guarantees: plain mutable containers with parent links kept consistent by the
methods here (`Block.append`, `Block.insert`, `Op.erase`, ...). Control flow is
structured: an op owns regions, a region holds exactly one block in practice,
and block arguments replace phis. Use lists are not stored: `uses()` and
`replace_uses()` walk the IR, which keeps every transformation simple to get right.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

from ..errors import CompileError, Loc, UNKNOWN_LOC
from .types import Type


class Value:
    """An SSA value: defined once, typed, with a name hint from the source."""

    __slots__ = ("type", "name")

    def __init__(self, type: Type, name: str = ""):
        self.type = type
        self.name = name

    def __repr__(self) -> str:
        return f"%{self.name or '?'}:{self.type}"


class OpResult(Value):
    __slots__ = ("op", "index")

    def __init__(self, op: "Op", index: int, type: Type, name: str = ""):
        super().__init__(type, name)
        self.op = op
        self.index = index


class BlockArg(Value):
    __slots__ = ("block", "index")

    def __init__(self, block: "Block", index: int, type: Type, name: str = ""):
        super().__init__(type, name)
        self.block = block
        self.index = index


class Op:
    """An operation: `results = name(operands) {attrs} regions`."""

    def __init__(
        self,
        name: str,
        operands: Sequence[Value] = (),
        result_types: Sequence[Type] = (),
        attrs: Optional[Dict[str, Any]] = None,
        regions: Sequence["Region"] = (),
        loc: Loc = UNKNOWN_LOC,
        result_names: Sequence[str] = (),
    ):
        self.name = name
        self.operands: List[Value] = list(operands)
        names = list(result_names) + [""] * (len(result_types) - len(result_names))
        self.results: List[OpResult] = [
            OpResult(self, i, t, n) for i, (t, n) in enumerate(zip(result_types, names))
        ]
        self.attrs: Dict[str, Any] = dict(attrs or {})
        self.regions: List[Region] = []
        for r in regions:
            self.add_region(r)
        self.loc = loc
        self.parent: Optional[Block] = None

    @property
    def result(self) -> OpResult:
        assert len(self.results) == 1, f"{self.name} has {len(self.results)} results"
        return self.results[0]

    def set_results(self, types: Sequence[Type], names: Sequence[str] = ()) -> List["OpResult"]:
        """Replace the results (only while the op is being built: old results must be unused)."""
        names = list(names) + [""] * (len(types) - len(names))
        self.results = [OpResult(self, i, t, n) for i, (t, n) in enumerate(zip(types, names))]
        return self.results

    def add_region(self, region: "Region") -> "Region":
        region.parent = self
        self.regions.append(region)
        return region

    def erase(self) -> None:
        """Remove this op from its block."""
        if self.parent is not None:
            self.parent.ops.remove(self)
            self.parent = None

    def walk(self) -> Iterator["Op"]:
        """This op, then every op nested in its regions, in program order."""
        yield self
        for r in self.regions:
            for b in r.blocks:
                for op in list(b.ops):
                    yield from op.walk()

    def parent_op(self) -> Optional["Op"]:
        """The op owning the region this op sits in (None at function level)."""
        if self.parent is None or self.parent.parent is None:
            return None
        owner = self.parent.parent.parent
        return owner if isinstance(owner, Op) else None

    def __repr__(self) -> str:
        return f"<Op {self.name} at {self.loc}>"


class Block:
    def __init__(self, arg_types: Sequence[Type] = (), arg_names: Sequence[str] = ()):
        names = list(arg_names) + [""] * (len(arg_types) - len(arg_names))
        self.args: List[BlockArg] = [
            BlockArg(self, i, t, n) for i, (t, n) in enumerate(zip(arg_types, names))
        ]
        self.ops: List[Op] = []
        self.parent: Optional[Region] = None

    def add_arg(self, type: Type, name: str = "") -> BlockArg:
        a = BlockArg(self, len(self.args), type, name)
        self.args.append(a)
        return a

    def remove_arg(self, index: int) -> None:
        del self.args[index]
        for i, a in enumerate(self.args):
            a.index = i

    def append(self, op: Op) -> Op:
        op.parent = self
        self.ops.append(op)
        return op

    def insert(self, index: int, op: Op) -> Op:
        op.parent = self
        self.ops.insert(index, op)
        return op

    def insert_before(self, anchor: Op, op: Op) -> Op:
        return self.insert(self.ops.index(anchor), op)

    @property
    def terminator(self) -> Optional[Op]:
        return self.ops[-1] if self.ops else None


class Region:
    """A list of blocks owned by an op or a function; one block in practice."""

    def __init__(self, blocks: Sequence[Block] = ()):
        self.blocks: List[Block] = []
        self.parent: Any = None
        for b in blocks:
            self.add_block(b)

    def add_block(self, block: Block) -> Block:
        block.parent = self
        self.blocks.append(block)
        return block

    @property
    def block(self) -> Block:
        return self.blocks[0]


class Function:
    """A function: typed parameters (the body's block arguments) and one result."""

    def __init__(self, name: str, param_types: Sequence[Type], param_names: Sequence[str],
                 result_type: Type, loc: Loc = UNKNOWN_LOC):
        self.name = name
        self.body = Region([Block(param_types, param_names)])
        self.body.parent = self
        self.result_type = result_type
        self.loc = loc
        self.attrs: Dict[str, Any] = {}

    @property
    def params(self) -> List[BlockArg]:
        return self.body.block.args

    @property
    def param_types(self) -> List[Type]:
        return [p.type for p in self.params]

    def walk(self) -> Iterator[Op]:
        for op in list(self.body.block.ops):
            yield from op.walk()

    def callees(self) -> List[str]:
        return [op.attrs["callee"] for op in self.walk() if op.name == "call"]

    def __repr__(self) -> str:
        return f"<Function @{self.name}>"


class Module:
    """An ordered set of functions, looked up by symbol name."""

    def __init__(self, functions: Sequence[Function] = ()):
        self.functions: Dict[str, Function] = {}
        for f in functions:
            self.add(f)

    def add(self, f: Function) -> Function:
        self.functions[f.name] = f
        return f

    def __getitem__(self, name: str) -> Function:
        return self.functions[name]

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def __iter__(self) -> Iterator[Function]:
        return iter(self.functions.values())

    @classmethod
    def reachable(cls, entry: Function,
                  lookup: Callable[[str], Optional[Function]]) -> "Module":
        """`entry` and every function it calls, directly or not, found by `lookup`."""
        m = cls()
        work = [entry]
        while work:
            f = work.pop()
            if f.name in m:
                continue
            m.add(f)
            for callee in f.callees():
                g = lookup(callee)
                if g is None:
                    raise CompileError(f"internal: missing function @{callee}")
                work.append(g)
        return m


# ---------------------------------------------------------------------------
# Walking helpers


def defining_block(v: Value) -> Block:
    if isinstance(v, BlockArg):
        return v.block
    assert isinstance(v, OpResult) and v.op.parent is not None, v
    return v.op.parent


def ops_using(root: Block, v: Value) -> List[Op]:
    """Every op under `root` (nested too) with `v` among its operands."""
    found = []
    for op in root.ops:
        for o in op.walk():
            if any(x is v for x in o.operands):
                found.append(o)
    return found


def replace_uses(root: Block, old: Value, new: Value) -> None:
    """Replace every use of `old` under `root` (nested too) by `new`."""
    for op in root.ops:
        for o in op.walk():
            o.operands = [new if x is old else x for x in o.operands]


def use_counts(root: Block) -> Dict[int, int]:
    """Number of uses of each value under `root`, keyed by id(value)."""
    counts: Dict[int, int] = {}
    for op in root.ops:
        for o in op.walk():
            for x in o.operands:
                counts[id(x)] = counts.get(id(x), 0) + 1
    return counts


def clone_op(op: Op, mapping: Dict[int, Value],
             on_new: Optional[Callable[[Op, Op], None]] = None) -> Op:
    """Deep-copy `op`, remapping operands through `mapping` (keyed by id(value)).

    The results and block arguments of the copy are entered into `mapping`.
    """
    new = Op(op.name, [mapping.get(id(x), x) for x in op.operands],
             [r.type for r in op.results], dict(op.attrs), (), op.loc,
             [r.name for r in op.results])
    for r_old, r_new in zip(op.results, new.results):
        mapping[id(r_old)] = r_new
    for region in op.regions:
        new_region = Region()
        for b in region.blocks:
            nb = Block([a.type for a in b.args], [a.name for a in b.args])
            for a_old, a_new in zip(b.args, nb.args):
                mapping[id(a_old)] = a_new
            for inner in b.ops:
                nb.append(clone_op(inner, mapping, on_new))
            new_region.add_block(nb)
        new.add_region(new_region)
    if on_new is not None:
        on_new(op, new)
    return new


def clone_function(f: Function, name: Optional[str] = None) -> Function:
    g = Function(name or f.name, f.param_types, [p.name for p in f.params],
                 f.result_type, f.loc)
    g.attrs = dict(f.attrs)
    mapping: Dict[int, Value] = {id(a): b for a, b in zip(f.params, g.params)}
    for op in f.body.block.ops:
        g.body.block.append(clone_op(op, mapping))
    return g
