"""Errors raised by adjoin, and source locations.

Assumes: nothing (imported by every layer, imports only the standard library).
Guarantees: every error about user code carries a `Loc` and renders as
``file:line:col: message`` followed by the source line and a caret, the way
compilers print diagnostics.
"""
from __future__ import annotations

import linecache
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Loc:
    """A position in a source file: 1-based line, 0-based column (as in `ast`).

    `role` marks code a transform derived from that position ("grad" for adjoint
    code, "tangent" for tangent code); emitters use it for `# grad of:` comments.
    """

    file: str
    line: int
    col: int = 0
    role: str = ""

    def with_role(self, role: str) -> "Loc":
        return Loc(self.file, self.line, self.col, role)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col + 1}"

    def source_line(self) -> str:
        return linecache.getline(self.file, self.line).rstrip("\n")


UNKNOWN_LOC = Loc("<unknown>", 0, 0)


class AdjoinError(Exception):
    """Base class of every error adjoin raises on purpose.

    Catch it to handle anything adjoin reports (compile errors, a missing toolchain, a
    pipeline that cannot train); errors of the user's own code keep CPython's types.

    Example:
        >>> issubclass(adjoin.CompileError, adjoin.AdjoinError)
        True
    """


class CompileError(AdjoinError):
    """The function cannot be compiled (or differentiated) correctly.

    `construct` names the offending Python construct; `loc` points at it. Its message
    starts with `file:line:col` and shows the source line with a caret.

    Attributes:
        message: the message without the location.
        loc: the source location (file, line, col), or None.
        construct: the name of the offending construct ("" when none applies).

    Example:
        >>> def f(x):
        ...     with open("x") as fh:
        ...         return x
        >>> try:
        ...     adjoin.differentiable(f)(1.0)
        ... except adjoin.CompileError as e:
        ...     print(e.loc.line, e.construct)
        2 the 'with' statement
    """

    def __init__(self, message: str, loc: Optional[Loc] = None, construct: str = ""):
        self.message = message
        self.loc = loc
        self.construct = construct
        super().__init__(self._render())

    def _render(self) -> str:
        if self.loc is None or self.loc.line <= 0:
            return self.message
        text = f"{self.loc}: {self.message}"
        line = self.loc.source_line()
        if line:
            stripped = line.expandtabs()
            text += "\n    " + stripped + "\n    " + " " * self.loc.col + "^"
        return text

    def one_line(self) -> str:
        """The message with its location, without the source excerpt."""
        if self.loc is None or self.loc.line <= 0:
            return self.message
        return f"{self.loc}: {self.message}"


class UnsupportedSyntax(CompileError):
    """A Python construct adjoin does not compile (try, with, class, ...).

    Raised at compile time (the first call), pointing at the construct.

    Example:
        >>> def f(x):
        ...     try:
        ...         return x
        ...     finally:
        ...         pass
        >>> try:
        ...     adjoin.differentiable(f)(1.0)
        ... except adjoin.UnsupportedSyntax as e:
        ...     print(e.construct)
        try/except
    """


class UnknownCallee(CompileError):
    """A call to something that is neither a known primitive nor a Python function.

    Example:
        >>> import random
        >>> def f(x):
        ...     return x * random.random()
        >>> try:
        ...     adjoin.differentiable(f)(1.0)
        ... except adjoin.CompileError as e:
        ...     print(type(e).__name__)
        UnknownCallee
    """


class TypingError(CompileError):
    """Operand types that no typing rule accepts.

    Example:
        >>> def f(x):
        ...     return x[0]
        >>> try:
        ...     adjoin.differentiable(f)(1.0)
        ... except adjoin.TypingError as e:
        ...     print(e.one_line().split(": ", 1)[1])
        a value of type f64 cannot be indexed
    """


class NotDifferentiable(CompileError):
    """A construct that compiles but whose derivative adjoin cannot produce correctly.

    Raised when a derivative is compiled; the primal still runs.

    Example:
        >>> issubclass(adjoin.NotDifferentiable, adjoin.CompileError)
        True
    """


class BackendError(CompileError):
    """A backend cannot lower a construct or type (the message suggests another backend).

    Example:
        >>> issubclass(adjoin.BackendError, adjoin.CompileError)
        True
    """


class IRParseError(AdjoinError):
    """Malformed IR text given to the IR parser."""

    def __init__(self, message: str, line: int = 0, col: int = 0):
        self.line, self.col = line, col
        super().__init__(f"line {line}, column {col + 1}: {message}" if line else message)


class VerifyError(AdjoinError):
    """The IR breaks an invariant: a compiler bug, never the user's fault."""


class ToolchainError(AdjoinError):
    """A tool adjoin needs outside Python (a C compiler to link a library) is missing or failed.

    Raised by `adjoin.compile_aot` before any work when no C compiler is found.

    Example:
        >>> issubclass(adjoin.ToolchainError, adjoin.AdjoinError)
        True
    """


class PipelineError(AdjoinError, ValueError):
    """A pipeline cannot be trained as built: a shape that does not fit the next step, a
    backprop asked of a step that has none, a parameter structure that does not match. Raised
    before training starts; the message names the step.

    Also a ValueError, so code catching ValueError for bad configurations catches it.

    Example:
        >>> issubclass(adjoin.PipelineError, ValueError)
        True
    """
