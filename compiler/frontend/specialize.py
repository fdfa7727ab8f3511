"""Specialization: Python functions to IR functions, one per argument signature.

Assumes: functions whose source `source.get_source` can read.
Guarantees: `Registry.specialize(fn, types)` returns the IR function for that
signature, translating it once (the result is cached, like Numba's dispatch
cache) and running the default pass pipeline on it. Calls translate their callee
on demand; a recursive call sees the callee's return type as unknown first, and
the function is re-translated until its return type settles (functions it calls
meanwhile, as in mutual recursion, are provisional and are translated again with
it; a version that still holds a provisional type skips the pass pipeline). Nested functions
and lambdas are specialized like any function, with the enclosing variables they
read passed as extra parameters. Translation runs under a raised recursion limit
(it recurses once per level of nesting); code nested deeper still is a CompileError.
Specializations are keyed by code, never by function object (`captures.spec_key`): an
entry function takes the numbers, arrays and tuples its closure captures as trailing
hidden parameters, so the closures of one factory share their code. Arguments that
share memory with another (`aliases`, groups of parameter indices) are modeled as one
array ("same") or as views of one buffer ("overlap"), for calls from the API and
between compiled functions. A callee from the standard library or an installed package
is an UnknownCallee at the call: adjoin compiles only user code. `COMPILE_LOCK` (held
while specializing; verbs hold it while they compile) makes compilation thread-safe.
"""
from __future__ import annotations

import builtins
import inspect
import keyword
import re
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Dict, Iterator, List, Optional, Tuple

import gast
import numpy as np

from ..errors import CompileError, Loc, TypingError, UnsupportedSyntax
from ..runtime import is_tensor
from ..ir.core import Function, Module, Value
from ..ir.ops import may_raise
from ..passes.shapes import Shapes
from ..ir.types import (ArrayType, BOOL, F32, F64, I64, NONE, TupleType, Type, UNKNOWN,
                        contains_unknown, join)
from .arith import BigInt
from .captures import Aliases, alias_groups, hidden_names, spec_key
from .checks import check_function
from .desugar import desugar
from .kinds import NumpyScalarType, marked, split
from .function_values import BoundClosure, api_signature, function_argument, is_function_value
from .structs import is_structure, struct_type
from .scope import Closure, Unbound, bound_names, holds_arrays
from .source import SourceInfo, check_user_code, get_source

COMPILE_LOCK = threading.RLock()  # one compilation at a time; compiled code runs outside it

_DTYPES = {np.dtype(np.float64): F64, np.dtype(np.float32): F32, np.dtype(np.int64): I64,
           np.dtype(np.int32): I64, np.dtype(np.bool_): BOOL}


_TENSOR_DTYPES = {"torch.float64": F64, "torch.float32": F32, "torch.int64": I64,
                  "torch.bool": BOOL}


def tensor_type(value: Any, what: str) -> Type:
    """A torch tensor's type: an array, or for a 0-d tensor a scalar that promotes as a
    Python number does (as 0-d tensors do in torch)."""
    dtype = _TENSOR_DTYPES.get(str(value.dtype))
    if dtype is None:
        raise TypeError(f"adjoin: {what} is a tensor of dtype {value.dtype}; supported dtypes "
                        "are float64, float32, int64 and bool")
    return ArrayType(dtype, value.ndim) if value.ndim else dtype


def typeof(value: Any, what: str = "argument") -> Type:
    """The signature type of a Python argument value, or TypeError naming it: an IR type,
    or a `NumpyScalarType` for a NumPy scalar (its operations follow NumPy, not CPython's
    float and int)."""
    if isinstance(value, (bool, np.bool_)):
        return BOOL if isinstance(value, bool) else NumpyScalarType("bool")
    if isinstance(value, (int, np.integer)):
        if not -2**63 <= int(value) < 2**63:
            raise TypeError(f"adjoin: {what} = {value} does not fit in 64 bits")
        return I64 if isinstance(value, int) else NumpyScalarType("i64")
    if isinstance(value, np.float32):
        return F32
    if isinstance(value, (float, np.floating)):
        return F64 if type(value) is float else NumpyScalarType("f64")
    if isinstance(value, np.ndarray):
        dtype = _DTYPES.get(value.dtype)
        if dtype is None:
            raise TypeError(f"adjoin: {what} is an array of dtype {value.dtype}; supported "
                            "dtypes are float64, float32, int64, int32 and bool")
        if value.ndim == 0:
            raise TypeError(f"adjoin: {what} is a 0-d array; pass a Python float instead")
        return ArrayType(dtype, value.ndim)
    if is_structure(value):
        return struct_type(value, what, typeof)
    sig = api_signature(value)
    if sig is not None:
        return sig
    if isinstance(value, tuple):
        return TupleType(tuple(typeof(v, f"{what}[{i}]") for i, v in enumerate(value)))
    if value is None:
        return NONE
    if is_tensor(value):
        return tensor_type(value, what)
    raise TypeError(f"adjoin: {what} has unsupported type {type(value).__name__}; adjoin "
                    "compiles floats, ints, bools, NumPy arrays, and tuples, lists, dicts "
                    "with string keys, namedtuples and dataclasses of them")


@dataclass
class Parsed:
    src: SourceInfo
    fdef: Any
    hidden: set
    code: Any  # the code object (kept alive: the cache is keyed by its id)


@dataclass
class InProgress:
    key: Any
    stub: Function
    used: bool = False
    tainted: bool = False


@dataclass
class Registry:
    cache: Dict[Any, Function] = field(default_factory=dict)
    by_symbol: Dict[str, Function] = field(default_factory=dict)
    symbol_of: Dict[Any, str] = field(default_factory=dict)
    parsed: Dict[Any, Parsed] = field(default_factory=dict)
    nested: Dict[int, Tuple[Any, set]] = field(default_factory=dict)
    stack: List[InProgress] = field(default_factory=list)
    batched: Dict[Any, Any] = field(default_factory=dict)  # batched functions (vmap)

    def clear(self) -> None:
        """Forget every specialization (the next call recompiles from source)."""
        for d in (self.cache, self.by_symbol, self.symbol_of, self.parsed, self.nested,
                  self.batched):
            d.clear()

    # -- names -----------------------------------------------------------------

    def resolve_global(self, fn, name: str) -> Tuple[bool, Any]:
        code = fn.__code__
        if fn.__closure__:
            for var, cell in zip(code.co_freevars, fn.__closure__):
                if var == name:
                    try:
                        return True, cell.cell_contents
                    except ValueError:
                        return False, None
        if name in fn.__globals__:
            return True, fn.__globals__[name]
        if hasattr(builtins, name):
            return True, getattr(builtins, name)
        return False, None

    def symbol_for(self, key, base: str) -> str:
        sym = self.symbol_of.get(key)
        if sym is None:
            base = re.sub(r"\W", "_", base.replace("<lambda>", "lambda")) or "f"
            if keyword.iskeyword(base):  # symbols become identifiers in generated code
                base += "_fn"
            sym, k = base, 2
            taken = set(self.symbol_of.values())
            while sym in taken:
                sym, k = f"{base}_{k}", k + 1
            self.symbol_of[key] = sym
        return sym

    # -- parsing -----------------------------------------------------------------

    def parse(self, fn) -> Parsed:
        """`fn`'s checked and desugared definition (cached by code object). Called from
        outside a translation, `fn` is a verb's entry function: library code is refused."""
        p = self.parsed.get(id(fn.__code__))
        if p is None:
            from ..compile_phases import timed
            with COMPILE_LOCK, timed("frontend"):
                p = self.parsed.get(id(fn.__code__))  # parsed by another thread meanwhile
                if p is not None:
                    return p
                if self.stack:
                    return self._parse(fn)
                check_user_code(fn, None)
                with room_to_recurse(fn):
                    return self._parse(fn)
        return p

    def _parse(self, fn) -> Parsed:
        src = get_source(fn)
        check_function(src)
        fdef, hidden = desugar(src.node)
        src.fn = None  # cached by code: the function object is bound per translation
        # By identity: equal code objects of different files are different definitions.
        p = self.parsed[id(fn.__code__)] = Parsed(src, fdef, hidden, fn.__code__)
        return p

    # -- specialization ------------------------------------------------------------

    def specialize(self, fn, types: List[Type], loc: Optional[Loc] = None, entry: bool = False,
                   aliases: Aliases = ()) -> Function:
        """`fn` for argument `types` (for an entry function, followed by the types of its
        captured values; see the module docstring)."""
        key = (spec_key(fn, entry), tuple(types), aliases)
        hit = self.cache.get(key)
        if hit is not None:  # done: no lock needed to read it
            return hit
        with COMPILE_LOCK:
            hit = self.lookup(key)
            if hit is not None:
                return hit
            if not self.stack:  # the outermost request: deep code recurses deeply
                with room_to_recurse(fn):
                    return self._specialize(fn, key, types, loc, entry, aliases)
            return self._specialize(fn, key, types, loc, entry, aliases)

    def _specialize(self, fn, key, types: List[Type], loc: Optional[Loc], entry: bool,
                    aliases: Aliases) -> Function:
        p = self.parse(fn)
        captured = hidden_names(fn) if entry else ()
        n_params = len(p.fdef.args.args)
        if len(types) != n_params + len(captured):
            raise TypingError(f"{fn.__name__}() takes {n_params} arguments, got "
                              f"{len(types) - len(captured)}", loc, "call")
        statics = {"$free:" + n: None for n in captured}
        src = replace(p.src, fn=fn, key=key[0])
        return self.translate(key, fn.__name__, src, p.fdef, p.hidden, types, statics, loc,
                              aliases)

    def lookup(self, key) -> Optional[Function]:
        if key in self.cache:
            return self.cache[key]
        for i, e in enumerate(self.stack):
            if e.key == key:  # a recursive call: its return type is provisional
                e.used = True
                for deeper in self.stack[i + 1:]:
                    deeper.tainted = True
                return e.stub
        return None

    def translate(self, *args, **kwargs) -> Function:
        """`_translate`, its time counted as the frontend's (compile_phases)."""
        from ..compile_phases import timed
        with timed("frontend"):
            return self._translate(*args, **kwargs)

    def _translate(self, key, base: str, src, fdef, hidden, signature, statics, loc,
                   aliases: Aliases = ()) -> Function:
        """Translate one specialization; `signature` may mark NumPy-scalar parameters."""
        from ..compile_phases import count
        from ..passes.manager import run_default_pipeline
        from .to_ir import FunctionTranslator
        count("frontend")
        symbol = self.symbol_for(key, base)
        types, kinds = split(signature)
        assumed: Type = UNKNOWN
        assumed_kind: Any = False
        for _ in range(6):
            stub = Function(symbol, types, [], assumed, src.loc(fdef))
            stub.attrs["result_kind"] = assumed_kind
            entry = InProgress(key, stub)
            self.stack.append(entry)
            try:
                f = FunctionTranslator(self, src, fdef, symbol, types, hidden, statics,
                                       aliases, kinds).build()
            finally:
                self.stack.pop()
            if not entry.used:
                break
            new = join(assumed, f.result_type)
            if new is None:
                raise TypingError(f"the recursive function '{base}' returns {f.result_type} but "
                                  f"its recursive call was typed {assumed}", src.loc(fdef),
                                  "recursion")
            if new == assumed and f.attrs["result_kind"] == assumed_kind:
                break
            assumed, assumed_kind = new, f.attrs["result_kind"]
        self.by_symbol[symbol] = f
        if entry.tainted and _has_unknown(f):
            # Built against a caller's provisional return type (mutual recursion): that
            # caller translates again, and this function with it, once its type settles.
            return f
        if contains_unknown(f.result_type):
            raise TypingError(f"cannot infer the return type of the recursive function '{base}': "
                              "no path returns without recursing", src.loc(fdef), "recursion")
        if entry.used and f.attrs.get("mutates"):
            raise UnsupportedSyntax(f"the recursive function '{base}' writes into its array "
                                    "arguments; this is not supported", src.loc(fdef),
                                    "recursion")
        run_default_pipeline(f)
        if not entry.tainted:
            self.cache[key] = f
        return f

    # -- calls from a translator -----------------------------------------------------

    def call_python(self, tr, fn, node) -> Value:
        check_user_code(fn, tr.loc(node))
        self.parse(fn)  # the callee's unsupported syntax is reported where it is
        sig = inspect.signature(fn, follow_wrapped=False)
        args = [tr.expr(a) for a in node.args]
        kwargs = {k.arg: tr.expr(k.value) for k in node.keywords}
        unknown = [k for k in kwargs if k not in sig.parameters]
        if unknown:  # checked first: Signature.bind would complain of a missing one
            raise TypingError(f"bad call to {fn.__name__}(): unexpected keyword argument "
                              f"'{unknown[0]}'", tr.loc(node), "call")
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as e:
            raise TypingError(f"bad call to {fn.__name__}(): {e}", tr.loc(node), "call") from None
        bound.apply_defaults()
        values, types = [], []
        for name, v in bound.arguments.items():
            if is_function_value(v):  # the callee is specialized on the function
                value, t = function_argument(self, tr, v, node)
            else:
                value = self.argument(tr, v, name, node)
                t = marked(value.type, tr.kind(value))
            values.append(value)
            types.append(t)
        f = self.specialize(fn, types, tr.loc(node))
        aliases = value_aliases(tr, values) if f.attrs.get("mutates") else ()
        if aliases:  # the callee writes into arguments that share memory
            f = self.specialize(fn, types, tr.loc(node), aliases=aliases)
        return self.emit_call(tr, f, values, node)

    def argument(self, tr, v, name: str, node) -> Value:
        if not isinstance(v, Value) and hasattr(v, "obj"):
            raise UnsupportedSyntax(f"'{v.name}' cannot be passed as the argument '{name}'",
                                    tr.loc(node), "static argument")
        if isinstance(v, Value):
            return v
        if isinstance(v, (tuple, BigInt)):
            return tr.as_value(v, node)
        return tr.as_value(tr.static_object(v, name, node), node)

    def emit_call(self, tr, f: Function, values: List[Value], node) -> Value:
        attrs = {"callee": f.name, "nothrow": True} if self.nothrow(f) else {"callee": f.name}
        r = tr.b.op("call", values, attrs, result_types=[f.result_type]).result
        tr.kinds.set(r, f.attrs.get("result_kind", False))
        mutated = f.attrs.get("mutates", ())
        if mutated:
            out = tr.tuple_item(r, 0)
            for k, idx in enumerate(mutated):
                self.rebind_mutated(tr, values[idx], tr.tuple_item(r, k + 1), node)
            r = out
        if holds_arrays(r.type):
            aliased = [values[i] for i in f.attrs.get("aliases", ()) if i < len(values)]
            if aliased:
                tr.origins.same_as(r, *aliased)
            else:
                tr.origins.fresh(r)
        return r

    def nothrow(self, f: Function) -> bool:
        """Whether a call of the finished function `f` can never raise (no op of it may
        raise), so that a call whose result is unused may be removed."""
        if self.by_symbol.get(f.name) is not f:
            return False  # a recursive call of a function still being translated
        known = f.attrs.get("nothrow")
        if known is None:
            shapes = Shapes(f)
            known = f.attrs["nothrow"] = not any(may_raise(op, shapes) for op in f.walk())
        return known

    def rebind_mutated(self, tr, arg: Value, new: Value, node) -> None:
        names = [n for n in tr.env.names() if tr.env.get(n) is arg and not n.startswith("$")]
        if names:
            tr.write_array(names[0], arg, new, node)
            return
        for n in tr.env.names():
            v = tr.env.get(n)
            if isinstance(v, Value) and tr.origins.get(v) & tr.origins.get(arg):
                tr.refuse_aliased_write("the argument", n, node)

    def desugared(self, fdef) -> Tuple[Any, Any]:
        nested = self.nested.get(id(fdef))
        if nested is None:
            nested = self.nested[id(fdef)] = desugar(fdef)
        return nested

    def call_closure(self, tr, closure: Closure, node) -> Value:
        fdef = closure.node
        dfdef, hidden = self.desugared(fdef)
        values = self.bind_closure_args(tr, fdef, node)
        if isinstance(closure, BoundClosure):  # passed in: what it reads came with it
            frees, statics, src = list(closure.frees), dict(closure.statics), closure.src
            free_values = [tr.tuple_item(closure.captured, i) for i in range(len(frees))]
        else:
            frees, statics = self.free_names(tr, dfdef, closure, node)
            free_values, src = [tr.env[n] for n in frees], tr.src
        for n in frees:
            statics["$free:" + n] = None
        types = [marked(v.type, tr.kind(v)) for v in values + free_values]
        key = ("closure", src.key, id(fdef), tuple(types),
               tuple(sorted((k, id(v.node)) for k, v in statics.items()
                            if isinstance(v, Closure))))
        hit = self.lookup(key)
        f = hit if hit is not None else self.translate(
            key, closure.name, src, dfdef, set(hidden) | set(frees), types, statics,
            tr.loc(node))
        return self.emit_call(tr, f, values + free_values, node)

    def bind_closure_args(self, tr, fdef, node) -> List[Value]:
        params = [a.id for a in fdef.args.args]
        defaults = dict(zip(params[len(params) - len(fdef.args.defaults):], fdef.args.defaults))
        given: Dict[str, Any] = {}
        if len(node.args) > len(params):
            name = "lambda" if fdef.name == "<lambda>" else fdef.name
            raise TypingError(f"{name}() takes {len(params)} positional argument(s) but "
                              f"{len(node.args)} were given", tr.loc(node), "call")
        for p, a in zip(params, node.args):
            given[p] = tr.value(a)
        for k in node.keywords:
            if k.arg not in params or k.arg in given:
                raise TypingError(f"unexpected or repeated keyword argument '{k.arg}'",
                                  tr.loc(k.value), "call")
            given[k.arg] = tr.value(k.value)
        for p in params:
            if p not in given:
                if p not in defaults:
                    raise TypingError(f"missing argument '{p}'", tr.loc(node), "call")
                given[p] = tr.value(defaults[p])
        return [given[p] for p in params]

    def free_names(self, tr, fdef, closure: Closure, node) -> Tuple[List[str], Dict[str, Any]]:
        params = {a.id for a in fdef.args.args}
        local = bound_names(fdef.body) | params
        loads = sorted({n.id for n in gast.walk(fdef) if isinstance(n, gast.Name)
                        and isinstance(n.ctx, gast.Load)} - local)
        frees, statics = [], {}
        for n in loads:
            v = tr.env.get(n)
            if v is None and n in tr.local_names() and n not in tr.hidden:
                v = Unbound()  # the enclosing function assigns it, but only later
            if v is None:
                continue  # a global: resolved through the module's namespace
            if isinstance(v, Closure):
                statics[n] = v
            elif isinstance(v, Unbound) or n in tr.env.unsure:
                raise CompileError(f"'{n}' is used by the nested function '{closure.name}' but "
                                   "may be unbound at this call", tr.loc(node), "closure")
            elif isinstance(v, Value):
                frees.append(n)
            else:
                raise UnsupportedSyntax(f"the nested function '{closure.name}' reads '{n}', "
                                        "which is not a number, array or tuple", tr.loc(node),
                                        "closure")
        return frees, statics

    # -- modules ----------------------------------------------------------------------

    def module_for(self, entry: Function) -> Module:
        return Module.reachable(entry, self.by_symbol.get)


def value_aliases(tr, values: List[Value]) -> Aliases:
    """Array arguments of one call that are one value, or may share memory by the
    translator's origins."""
    arrays = [(i, v) for i, v in enumerate(values) if isinstance(v.type, ArrayType)]
    return alias_groups(arrays, lambda a, b: a is b,
                        lambda a, b: bool(tr.origins.get(a) & tr.origins.get(b)))


def _has_unknown(f: Function) -> bool:
    """True when some value of `f` still has the provisional type of a recursive call."""
    return contains_unknown(f.result_type) or any(
        contains_unknown(r.type) for op in f.walk() for r in op.results)


COMPILE_RECURSION_LIMIT = 20000


@contextmanager
def room_to_recurse(fn) -> Iterator[None]:
    """Translate with a higher recursion limit (parsing and translating recurse once per
    level of nesting); code nested deeper still is a CompileError, not a RecursionError."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, COMPILE_RECURSION_LIMIT))
    try:
        yield
    except RecursionError:
        code = fn.__code__
        raise CompileError(f"'{fn.__qualname__}' (or a function it calls) is nested too deeply "
                           "to compile; split deep expressions or long elif chains",
                           Loc(code.co_filename, code.co_firstlineno, 0),
                           "nesting depth") from None
    finally:
        sys.setrecursionlimit(old)


REGISTRY = Registry()
