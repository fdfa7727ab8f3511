"""Call-graph analysis: which functions of a module are on a cycle of calls.

Assumes: a module whose `call` ops name functions of the module (others are ignored).
Guarantees: `recursive_functions(m)` returns the names of the functions that can
reach themselves through calls (direct or mutual recursion); the llvm backend
counts only their depth against the recursion limit. The IR is not changed.
"""
from __future__ import annotations

from typing import Dict, List, Set

from ..ir.core import Module


def recursive_functions(module: Module) -> Set[str]:
    """Names of the functions on a cycle of calls (Tarjan's strongly connected
    components)."""
    calls = {f.name: [c for c in f.callees() if c in module] for f in module}
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    out: Set[str] = set()

    def visit(v: str) -> None:  # recursive: call chains are short next to Python's limit
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in calls[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1 or v in calls[v]:
                out.update(component)
    for name in calls:
        if name not in index:
            visit(name)
    return out
