"""The `adjoin` command.

    adjoin ir   path/to/file.py:func (--args "1.0, 3" | --signature "f64, i64") [--locs]
    adjoin show path/to/file.py:func (--args ... | --signature ...) [--wrt x,y] [--ir]
                [--emit python|llvm|tangent] [--backend python|llvm|torch]
                [--error-model python|numpy]
    adjoin aot  path/to/file.py:func --signature "f64[:], i64" [-o out/] [--wrt x,y]
                [--error-model python|numpy]
    adjoin --version | adjoin (no arguments: the help, status 0)

Assumes: the file can be imported as a module (it is executed, as `python file.py`
would, but with a module name other than `__main__`).
Guarantees: output on stdout; any user error (missing file or function, bad
arguments, code adjoin cannot compile) prints one line `adjoin: ...` on stderr
and exits with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from .errors import AdjoinError, CompileError
from .runtime import __version__


class UsageError(Exception):
    """A mistake on the command line."""


def load_function(target: str) -> Callable:
    path, sep, name = target.rpartition(":")
    if not sep or not path or not name:
        raise UsageError(f"expected path/to/file.py:function, got {target!r}")
    if not os.path.isfile(path):
        raise UsageError(f"no such file: {path}")
    mod_name = "adjoin_cli_" + os.path.splitext(os.path.basename(path))[0].replace("-", "_")
    spec = importlib.util.spec_from_file_location(mod_name, os.path.abspath(path))
    if spec is None or spec.loader is None:
        raise UsageError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # the user's module failed while importing
        raise UsageError(f"importing {path} failed: {type(e).__name__}: {e}") from None
    fn = getattr(module, name, None)
    if fn is None:
        raise UsageError(f"{path} has no function '{name}'")
    if not callable(fn):
        raise UsageError(f"'{name}' in {path} is not a function")
    return fn


def example_arguments(text: Optional[str], fn: Callable) -> Tuple[Any, ...]:
    if text is None:
        raise UsageError("give example arguments with --args \"1.0, 3\" or types with "
                         "--signature \"f64, i64\"")
    env = {"np": np, "numpy": np, "math": math}
    try:
        value = eval("(" + text + ",)" if text.strip() else "()", env)  # noqa: S307
    except Exception as e:
        raise UsageError(f"cannot evaluate --args {text!r}: {e}") from None
    return tuple(value)


def _specialized(args) -> Tuple[Callable, Optional[Tuple[Any, ...]], Optional[Tuple]]:
    from .ir.types import parse_signature
    from .primal import unwrap
    fn = unwrap(load_function(args.target))
    if args.signature is not None:
        return fn, None, parse_signature(args.signature)
    return fn, example_arguments(args.args, fn), None


def cmd_ir(args) -> str:
    from .api import ir_text
    fn, values, types = _specialized(args)
    return ir_text(fn, values, types, locs=args.locs)


def cmd_show(args) -> str:
    from .api import ir_text
    from .sources import show_text
    fn, values, types = _specialized(args)
    wrt = [w.strip() for w in args.wrt.split(",")] if args.wrt else None
    parts: List[str] = []
    if args.ir:
        parts.append(ir_text(fn, values, types))
    backend = args.backend or ("llvm" if args.emit == "llvm" else "python")
    if args.emit == "llvm" and backend != "llvm":
        raise UsageError(f"--emit llvm shows the llvm backend's code, not the {backend} "
                         "backend's")
    emit = args.emit if args.emit in ("tangent", "vmap") else "gradient"
    in_axes = None
    if args.in_axes:
        in_axes = [None if a.strip() == "None" else int(a) for a in args.in_axes.split(",")]
    parts.append(show_text(fn, values, types, wrt, emit=emit, backend=backend,
                           error_model=args.error_model, in_axes=in_axes))
    return "\n\n".join(parts)


def cmd_aot(args) -> str:
    from .aot import compile_aot
    from .calls import parameter_names
    from .ir.types import parse_signature
    from .primal import unwrap
    fn = unwrap(load_function(args.target))
    if args.signature is None:
        raise UsageError('aot needs the argument types: --signature "f64[:], i64"')
    types = parse_signature(args.signature)
    if args.no_grad:
        wrt = None
    elif args.wrt:
        wrt = tuple(w.strip() for w in args.wrt.split(","))
    else:
        names = list(parameter_names(fn))
        floats = [n for n, t in zip(names, types) if t.differentiable()]
        wrt = tuple(floats[:1]) or None
    art = compile_aot(fn, types, args.output, wrt=wrt, name=args.name, cpu=args.cpu,
                      error_model=args.error_model)
    return "\n".join(f"wrote {p}" for p in (art.library, art.header, art.loader))


def cmd_cache(args) -> str:
    from .cache_store import cache_info, clear_cache
    if args.action == "clear":
        return f"removed {clear_cache()} bytes from {cache_info()['root']}"
    info = cache_info()
    if not info["enabled"]:
        return "disk cache: off"
    lines = [f"disk cache: {info['root']}",
             f"  {info['files']} files, {info['bytes']} bytes (bound {info['size_bound']})"]
    lines += [f"  {k}: {info[k]['files']} files, {info[k]['bytes']} bytes"
              for k in ("entries", "objects", "python")]
    return "\n".join(lines)


def error_model(sp) -> None:
    sp.add_argument("--error-model", default="python", choices=("python", "numpy"),
                    help="llvm code: raise CPython's exceptions for scalar errors (python, "
                         "the default) or give IEEE/NumPy results (numpy)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="adjoin", description="adjoin: a differentiating compiler "
                                "for Python")
    p.add_argument("--version", action="version", version=f"adjoin {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("target", help="path/to/file.py:function")
        sp.add_argument("--args", help='example arguments, e.g. "1.0, 3" or "np.ones(4), 2"')
        sp.add_argument("--signature", help='argument types, e.g. "f64, i64" or "f64[:], i64"')
    sp = sub.add_parser("ir", help="print the typed SSA IR of a function")
    common(sp)
    sp.add_argument("--locs", action="store_true", help="print source locations")
    sp.set_defaults(run=cmd_ir)
    sp = sub.add_parser("show", help="print the generated gradient code of a function")
    common(sp)
    sp.add_argument("--wrt", help="arguments to differentiate, by name: x,y (default: the "
                    "first argument, as adjoin.grad's wrt=0; when it is not a float or a float "
                    "array, show stops with an error asking for --wrt)")
    sp.add_argument("--ir", action="store_true", help="print the IR before the gradient")
    sp.add_argument("--emit", default="python", choices=("python", "llvm", "tangent", "vmap"),
                    help="what to show: the gradient (default), its LLVM IR (the same as "
                         "--backend llvm), the forward-mode (tangent) code, or the batched "
                         "code adjoin.vmap runs (the types given are one example's)")
    sp.add_argument("--in-axes", help="with --emit vmap: per argument 0 (batched) or None "
                                      "(shared), e.g. 0,None (default: all batched)")
    sp.add_argument("--backend", choices=("python", "llvm", "torch"),
                    help="whose code to show: python (default), llvm (LLVM IR) or torch")
    error_model(sp)
    sp.set_defaults(run=cmd_show)
    sp = sub.add_parser("aot", help="compile a function and its gradient into a shared library")
    sp.add_argument("target", help="path/to/file.py:function")
    sp.add_argument("--signature", help='argument types, e.g. "f64[:], i64"')
    sp.add_argument("-o", "--output", default=".", help="folder for the library, header and "
                    "loader (default: .)")
    sp.add_argument("--wrt", help="arguments to differentiate, by name: x,y (default: the "
                    "first float argument)")
    sp.add_argument("--no-grad", action="store_true", help="compile the function only")
    sp.add_argument("--name", help="name of the library and its symbols (default: the "
                    "function's)")
    sp.add_argument("--cpu", default="host", help='target CPU: "host" (default) or an LLVM '
                    'CPU name such as "x86-64-v2" for a library that runs on other machines')
    error_model(sp)
    sp.set_defaults(run=cmd_aot)
    sp = sub.add_parser("cache", help="the disk cache of compiled code: where it is and its "
                        "size (info), or empty it (clear)")
    sp.add_argument("action", choices=("info", "clear"))
    sp.set_defaults(run=cmd_cache)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # bare `adjoin`: the help, not a usage error
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    try:
        out = args.run(args)
    except CompileError as e:
        print(f"adjoin: {e.one_line()}", file=sys.stderr)
        return 2
    except (UsageError, AdjoinError, TypeError, ValueError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        print("adjoin: " + text.removeprefix("adjoin: "), file=sys.stderr)
        return 2
    try:
        print(out)
        sys.stdout.flush()
    except BrokenPipeError:  # `adjoin show ... | head`: the reader left early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
