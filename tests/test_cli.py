"""The `adjoin` command: as a subprocess (`python -m adjoin.cli`) and in-process
through `adjoin.cli.main`. Output on success is IR that parses back; every user
error is exit status 2 with exactly one stderr line starting `adjoin:`."""
import re
import subprocess
import sys
import textwrap

import pytest

from adjoin.cli import main
from adjoin.ir import (ArrayType, F64, I64, parse_module, print_module, verify_module)

EXAMPLE = textwrap.dedent("""\
    import math

    import numpy as np


    def f(x, n):
        s = 0.0
        for i in range(n):
            s = s + math.sin(x) * i
        return s


    def g(a, k):
        return np.sum(a * a) * k


    def h(x):
        return helper(x) + 1.0


    def helper(x):
        return x * x


    def bad(x):
        with open("/dev/null"):
            y = x
        return y


    NOT_A_FUNCTION = 3
    """)


def lineno(text: str, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(text.splitlines()) if needle in line)


@pytest.fixture
def example(tmp_path):
    path = tmp_path / "example.py"
    path.write_text(EXAMPLE)
    return path


def run_cli(*argv, cwd):
    """`python -m adjoin.cli argv...`: (status, stdout, stderr)."""
    p = subprocess.run([sys.executable, "-m", "adjoin.cli", *map(str, argv)], cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def run_main(argv, capsys):
    """`adjoin.cli.main(argv)` in this process: (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def check_ir(out: str, name: str, param_types):
    """`out` is a printed module whose entry, printed first, is the function `name`
    (its symbol may carry a suffix when another function of that name was compiled
    in this process) with these parameter types. Returns the module and the entry."""
    module = parse_module(out)
    verify_module(module)
    assert print_module(module) == out.rstrip("\n")
    entry = next(iter(module))
    assert re.fullmatch(rf"{name}(_\d+)?", entry.name)
    assert entry.param_types == list(param_types)
    return module, entry


def check_user_error(status, out, err, *phrases):
    assert status == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("adjoin: ")
    assert "Traceback" not in err
    for phrase in phrases:
        assert phrase in lines[0]
    return lines[0]


# ---------------------------------------------------------------------------
# As a subprocess


def test_subprocess_ir_with_args(example):
    status, out, err = run_cli("ir", f"{example}:f", "--args", "1.0, 3", cwd=example.parent)
    assert status == 0 and err == ""
    _, entry = check_ir(out, "f", [F64, I64])
    ops = [op.name for op in entry.walk()]
    assert "for" in ops and "sin" in ops


def test_subprocess_ir_with_signature(example):
    status, out, err = run_cli("ir", "example.py:g", "--signature", "f64[:], i64",
                               cwd=example.parent)
    assert status == 0 and err == ""
    check_ir(out, "g", [ArrayType(F64, 1), I64])


def test_subprocess_compile_error(example):
    status, out, err = run_cli("ir", "example.py:bad", "--args", "1.0", cwd=example.parent)
    line = check_user_error(status, out, err, "'with'")
    where = f"{example}:{lineno(EXAMPLE, 'with open')}:5:"
    assert line.startswith(f"adjoin: {where}")


def test_subprocess_missing_file(tmp_path):
    status, out, err = run_cli("ir", "nowhere.py:f", "--args", "1.0", cwd=tmp_path)
    check_user_error(status, out, err, "nowhere.py")


# ---------------------------------------------------------------------------
# In-process: adjoin.cli.main


def test_main_ir_with_args(example, capsys):
    status, out, err = run_main(["ir", f"{example}:f", "--args", "1.0, 3"], capsys)
    assert status == 0 and err == ""
    check_ir(out, "f", [F64, I64])


def test_main_args_may_use_numpy(example, capsys):
    status, out, _ = run_main(["ir", f"{example}:g", "--args", "np.ones((2, 3)), 4"], capsys)
    assert status == 0
    check_ir(out, "g", [ArrayType(F64, 2), I64])


@pytest.mark.parametrize("signature,types", [
    ("f64[:], i64", [ArrayType(F64, 1), I64]),
    ("f64[:, :], int", [ArrayType(F64, 2), I64]),
    ("array<f64, 3>, i64", [ArrayType(F64, 3), I64]),
    ("float64[:], int64", [ArrayType(F64, 1), I64]),
])
def test_main_ir_with_signature(example, capsys, signature, types):
    status, out, err = run_main(["ir", f"{example}:g", "--signature", signature], capsys)
    assert status == 0 and err == ""
    check_ir(out, "g", types)


def test_main_prints_callees(example, capsys):
    status, out, _ = run_main(["ir", f"{example}:h", "--args", "2.0"], capsys)
    assert status == 0
    module, entry = check_ir(out, "h", [F64])
    callees = entry.callees()
    assert len(callees) == 1 and re.fullmatch(r"helper(_\d+)?", callees[0])
    assert callees[0] in module


def test_main_locs(example, capsys):
    status, out, _ = run_main(["ir", f"{example}:f", "--args", "1.0, 3", "--locs"], capsys)
    assert status == 0
    head = out.splitlines()[0]
    assert head.endswith(f'loc("{example}":{lineno(EXAMPLE, "def f(")}:0) {{')
    sin_line = next(line for line in out.splitlines() if "= sin " in line)
    want = lineno(EXAMPLE, "math.sin(x)")
    col = EXAMPLE.splitlines()[want - 1].index("math.sin")
    assert sin_line.endswith(f"loc({want}:{col})")
    module = parse_module(out)
    assert print_module(module, locs=True) == out.rstrip("\n")


def test_main_without_locs_prints_none(example, capsys):
    _, out, _ = run_main(["ir", f"{example}:f", "--args", "1.0, 3"], capsys)
    assert "loc(" not in out


def test_main_relative_path(example, capsys, monkeypatch):
    monkeypatch.chdir(example.parent)
    status, out, _ = run_main(["ir", "example.py:f", "--signature", "f64, i64"], capsys)
    assert status == 0
    check_ir(out, "f", [F64, I64])


# User errors: status 2, one line on stderr.

@pytest.mark.parametrize("argv,phrases", [
    (["ir", "{dir}/missing.py:f", "--args", "1.0"], ("no such file", "missing.py")),
    (["ir", "{ex}:nope", "--args", "1.0"], ("has no function 'nope'",)),
    (["ir", "{ex}:NOT_A_FUNCTION", "--args", "1.0"], ("'NOT_A_FUNCTION'", "not a function")),
    (["ir", "{ex}", "--args", "1.0"], ("expected path/to/file.py:function",)),
    (["ir", ":f", "--args", "1.0"], ("expected path/to/file.py:function",)),
    (["ir", "{ex}:", "--args", "1.0"], ("expected path/to/file.py:function",)),
    (["ir", "{ex}:f", "--args", "1.0,,"], ("cannot evaluate --args",)),
    (["ir", "{ex}:f", "--args", "undefined_name"], ("cannot evaluate --args",)),
    (["ir", "{ex}:f", "--args", "1.0, 2, 3"], ("f()", "too many")),
    (["ir", "{ex}:f", "--args", "'text', 2"], ("argument 'x' of f()", "str")),
    (["ir", "{ex}:f"], ("--args", "--signature")),
    (["ir", "{ex}:f", "--signature", "f65, i64"], ("cannot read the type 'f65'",)),
    (["ir", "{ex}:f", "--signature", "f64"], ("f()", "2 arguments")),
], ids=["missing-file", "missing-function", "not-a-function", "no-colon", "no-path",
        "no-name", "bad-args-syntax", "bad-args-name", "too-many-args", "str-arg", "no-args",
        "bad-signature", "short-signature"])
def test_main_user_errors(example, capsys, argv, phrases):
    argv = [a.format(ex=example, dir=example.parent) for a in argv]
    check_user_error(*run_main(argv, capsys), *phrases)


def test_main_compile_error_has_location(example, capsys):
    line = check_user_error(*run_main(["ir", f"{example}:bad", "--args", "1.0"], capsys),
                            "the 'with' statement")
    m = re.match(r"adjoin: (.+):(\d+):(\d+): ", line)
    assert m and m.group(1) == str(example)
    assert int(m.group(2)) == lineno(EXAMPLE, "with open") and int(m.group(3)) == 5


def test_main_type_error_in_function_has_location(example, capsys):
    # Arrays where f's loop accumulates a float: a typing error inside f.
    line = check_user_error(*run_main(["ir", f"{example}:f", "--args", "np.ones(3), 2"],
                                      capsys), "one type per variable")
    assert re.match(rf"adjoin: {re.escape(str(example))}:\d+:\d+: ", line)


def test_main_module_that_fails_to_import(tmp_path, capsys):
    (tmp_path / "broken.py").write_text("raise RuntimeError('boom')\n")
    check_user_error(*run_main(["ir", f"{tmp_path}/broken.py:f", "--args", "1.0"], capsys),
                     "importing", "RuntimeError: boom")


def test_main_module_with_syntax_error(tmp_path, capsys):
    (tmp_path / "syntax.py").write_text("def f(x:\n")
    check_user_error(*run_main(["ir", f"{tmp_path}/syntax.py:f", "--args", "1.0"], capsys),
                     "importing", "SyntaxError")


def test_main_prefix_appears_once(example, capsys):
    line = check_user_error(*run_main(["ir", f"{example}:f", "--args", "'text', 2"], capsys))
    assert not line.startswith("adjoin: adjoin:")


def test_main_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["ir"])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_show_backend_torch(example, capsys):
    pytest.importorskip("torch")
    assert main(["show", f"{example}:g", "--signature", "f64[:], f64",
                 "--backend", "torch"]) == 0
    out = capsys.readouterr().out
    assert "import torch" in out and "@torch.no_grad()" in out
    assert re.search(r"def g\w*_grad\(a, k, out_bar=1\.0\):", out)
    assert main(["show", f"{example}:g", "--signature", "f64[:], f64", "--backend", "torch",
                 "--emit", "tangent"]) == 0
    assert "_jvp(" in capsys.readouterr().out


def test_show_emit_llvm_with_another_backend_is_a_usage_error(example, capsys):
    assert main(["show", f"{example}:g", "--signature", "f64[:], f64", "--backend", "torch",
                 "--emit", "llvm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--emit llvm shows the llvm backend's code" in err[0]


# Version, help, and show's default --wrt (adjoin.grad's: the first argument).

def test_version_prints_runtime_version(tmp_path):
    from adjoin.runtime import __version__
    status, out, err = run_cli("--version", cwd=tmp_path)
    assert (status, out.strip(), err) == (0, f"adjoin {__version__}", "")


def test_bare_adjoin_prints_help_and_exits_0(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: adjoin") and "show" in out and "aot" in out


def test_show_default_wrt_is_the_first_argument(example, capsys):
    # h(x): the default and --wrt x give the same code; g(a, k): both floats, the
    # default differentiates a only, as adjoin.grad(g) does.
    status, default, _ = run_main(["show", f"{example}:g", "--signature", "f64[:], f64"], capsys)
    status2, explicit, _ = run_main(["show", f"{example}:g", "--signature", "f64[:], f64",
                                     "--wrt", "a"], capsys)
    status3, both, _ = run_main(["show", f"{example}:g", "--signature", "f64[:], f64",
                                 "--wrt", "a,k"], capsys)
    assert status == status2 == status3 == 0
    default, explicit, both = (re.sub(r"\bg_\d+", "g", t) for t in (default, explicit, both))
    assert default == explicit and default != both


def test_show_default_wrt_on_an_int_first_argument_asks_for_wrt(tmp_path, capsys):
    (tmp_path / "m.py").write_text("def f(n, x):\n    return x * n\n")
    line = check_user_error(*run_main(["show", f"{tmp_path}/m.py:f", "--signature",
                                       "i64, f64"], capsys),
                            "default --wrt is the first argument", "'n'", "--wrt")
    assert "Traceback" not in line
    assert run_main(["show", f"{tmp_path}/m.py:f", "--signature", "i64, f64", "--wrt", "x"],
                    capsys)[0] == 0
