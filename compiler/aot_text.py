"""The text files of an ahead-of-time build: the C header and the Python loader.

Assumes: the metadata `info` made by aot.py (entries with IR type texts, wrt,
signature) and the function's parameter names.
Guarantees: `c_header` declares every exported symbol with C types matching
backends/llvm/entry.py's flattening (arrays as data, shape, byte strides; results
through pointers), documenting each parameter; `loader_module` is Python source
defining `<name>`, and with a gradient `<name>_grad` and `<name>_value_and_grad`,
with the function's own parameter names, importing only adjoin.runtime.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

from .ir.types import ArrayType, TupleType, Type, parse_type
from .runtime import __version__
from .runtime.native import ERROR_NAMES, ERRORS

_C = {"f64": "double", "f32": "float", "i64": "int64_t", "bool": "uint8_t", "none": "uint8_t"}


def _leaves(name: str, t: Type) -> List[Tuple[str, Type]]:
    if isinstance(t, TupleType):
        return [x for k, e in enumerate(t.elts) for x in _leaves(f"{name}_{k}", e)]
    return [(name, t)]


def _c_params(names: Sequence[str], types: Sequence[Type]) -> List[str]:
    out = []
    for pname, t in zip(names, types):
        for leaf, lt in _leaves(pname, t):
            if isinstance(lt, ArrayType):
                out += [f"const {_C[lt.dtype.name]} *{leaf}", f"const int64_t *{leaf}_shape",
                        f"const int64_t *{leaf}_strides"]
            else:
                out.append(f"{_C[str(lt)]} {leaf}")
    return out


def _c_results(names: Sequence[str], t: Type) -> List[str]:
    leaves = _leaves("result", t) if len(names) == 1 else \
        [x for n, e in zip(names, t.elts) for x in _leaves(n, e)]
    return [f"adjoin_array *{leaf}" if isinstance(lt, ArrayType) else f"{_C[str(lt)]} *{leaf}"
            for leaf, lt in leaves]


def _decl(symbol: str, params: List[str]) -> str:
    head = f"int32_t {symbol}("
    pad = " " * len(head)
    return head + (",\n" + pad).join(["adjoin_ctx *ctx"] + params) + ");"


def c_header(f: Callable, names: Sequence[str], types: Sequence[Type], info: Dict[str, Any]
             ) -> str:
    name = info["name"]
    guard = f"ADJOIN_{name.upper()}_H"
    sig = ", ".join(f"{n}: {t}" for n, t in zip(names, types))
    primal = info["entries"]["primal"]
    rt = parse_type(primal["result"])
    mutates = info["mutates"]
    out_names = ["result"] if not mutates else \
        ["result"] + [f"{names[i]}_new" for i in mutates]
    lines = [
        f"/* {name}: {f.__name__}({sig}) compiled ahead of time by adjoin {__version__}",
        f"   from {info['source']}.",
        "",
        "   Link with -l" + name + ". Each entry point takes a context from adjoin_ctx_new()",
        "   and returns 0, or an ADJOIN_ERR_* code. Arrays are passed as (data, shape,",
        "   strides in bytes), any strides, and are never written. Array results are",
        "   written into adjoin_array structs whose data belongs to the context: valid",
        "   until adjoin_ctx_reset() or adjoin_ctx_free() on it. A context serves one",
        "   thread at a time; reset it between calls to reuse its memory. */",
        f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "",
        "#ifdef __cplusplus", 'extern "C" {', "#endif", "",
        "#ifndef ADJOIN_RUNTIME_DECLARED", "#define ADJOIN_RUNTIME_DECLARED",
        "typedef struct adjoin_ctx adjoin_ctx;",
        "typedef struct adjoin_array {",
        "    void *data;",
        "    int64_t shape[8];",
        "    int64_t strides[8];  /* in bytes */",
        "} adjoin_array;", ""]
    for code, (exc, msg) in sorted(ERRORS.items()):
        lines.append(f"#define ADJOIN_ERR_{ERROR_NAMES[code]} {code}  /* {exc.__name__}: "
                     f"{msg} */")
    lines += ["", "adjoin_ctx *adjoin_ctx_new(void);",
              "void adjoin_ctx_reset(adjoin_ctx *ctx);  /* frees what calls allocated */",
              "void adjoin_ctx_free(adjoin_ctx *ctx);",
              "int64_t adjoin_ctx_bytes(adjoin_ctx *ctx);  /* memory it holds now */",
              "/* Recursive calls nest at most `depth` deep (1000 in a new context), and",
              "   never below stack address `stack_low` (0: unchecked); past either the",
              "   call returns ADJOIN_ERR_RECURSION. */",
              "void adjoin_ctx_set_limits(adjoin_ctx *ctx, int64_t depth, int64_t stack_low);",
              "#endif", "",
              "/* JSON metadata: adjoin version, ABI, signature, entry points. */",
              f"const char *adjoin_{name}_info(void);", "",
              f"/* {f.__name__}({sig}) -> {primal['result']}" +
              (f"\n   (it writes into {', '.join(names[i] for i in mutates)}: their new "
               "contents come back in *_new)" if mutates else "") + " */",
              _decl(primal["symbol"], _c_params(names, types) + _c_results(out_names, rt)),
              ""]
    grad = info["entries"].get("gradient")
    if grad is not None:
        wrt = [names[i] for i in info["wrt"]]
        gt = parse_type(grad["result"])
        lines += [f"/* The value of {f.__name__} and its gradient with respect to "
                  f"{', '.join(wrt)}:",
                  f"   value = {f.__name__}(...), " +
                  ", ".join(f"{w}_bar = seed * d value / d {w}" for w in wrt) +
                  " (seed = 1.0 for the gradient). */",
                  _decl(grad["symbol"], _c_params(names, types) + ["double seed"] +
                        _c_results(["value"] + [f"{w}_bar" for w in wrt], gt)), ""]
    lines += ["#ifdef __cplusplus", "}", "#endif", f"#endif  /* {guard} */", ""]
    return "\n".join(lines)


def loader_module(f: Callable, names: Sequence[str], info: Dict[str, Any],
                  digest: Dict[str, Any]) -> str:
    """The loader; `digest` (size and sha256 of the library) is checked before loading."""
    name = info["name"]
    params = ", ".join(names)
    expected = {k: info[k] for k in ("name", "signature", "wrt")}
    expected.update(digest)
    lines = [
        f'"""{f.__name__}({info["signature"]}), compiled ahead of time by adjoin '
        f'{__version__}.', "",
        f"Loads {_lib_name(name)} from this folder with adjoin.runtime and NumPy only (no",
        "compiler). Built from " + info["source"] + ".", '"""',
        "from adjoin.runtime.aot import load", "",
        f"_library = load(__file__, {expected!r})", "",
        f"SIGNATURE = {info['signature']!r}",
        f"WRT = {tuple(names[i] for i in info['wrt'] or ())!r}", "", "",
        f"def {name}({params}):",
        f'    """{f.__name__}() for the compiled signature."""',
        f"    return _library.primal({params})", ""]
    if info["wrt"] is not None:
        wrt = ", ".join(names[i] for i in info["wrt"])
        lines += ["",
                  f"def {name}_grad({params}):",
                  f'    """The gradient of {f.__name__}() with respect to {wrt}."""',
                  f"    return _library.gradient({params})", "", "",
                  f"def {name}_value_and_grad({params}, seed=1.0):",
                  f'    """(value, gradient with respect to {wrt}), the gradient scaled by '
                  'seed."""',
                  f"    return _library.value_and_grad({params}, seed=seed)", ""]
    return "\n".join(lines)


def _lib_name(name: str) -> str:
    from .runtime.aot import library_file
    return library_file(name)
