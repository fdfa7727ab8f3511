"""Ahead-of-time libraries, the LLVM IR API and the on-disk machine-code cache.

Libraries are built here, then loaded and called from fresh subprocesses in which
importing llvmlite or gast fails, and from C programs compiled against the
generated header (skipped when there is no C compiler). Values must equal the
JIT's and the Python backend's.
"""
import json
import os
import shutil
import subprocess
import sys
import textwrap

import re

import numpy as np
import pytest

import adjoin
from adjoin import aot as aot_module
from adjoin.cli import main

pytest.importorskip("llvmlite")

HAVE_CC = any(shutil.which(c) for c in ("cc", "gcc", "clang"))
needs_cc = pytest.mark.skipif(not HAVE_CC, reason="no C compiler to link libraries")

SOURCE = textwrap.dedent("""\
    import math

    import numpy as np


    def energy(x, w, n):
        total = 0.0
        for i in range(n):
            t = x[i] * w[i]
            if t > 0.5:
                total += math.log(t + 1.0)
            else:
                total += t * t
        return total + np.sum(np.sin(x))


    def scale_in_place(a, k):
        for i in range(a.shape[0]):
            a[i] = a[i] * k
        return np.sum(a) * k
""")

# Runs in a fresh interpreter: the compiler's dependencies cannot be imported.
BLOCKED = textwrap.dedent("""\
    import sys
    class _Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("llvmlite", "gast"):
                raise ImportError("blocked: " + name)
            if name.startswith(("adjoin.frontend", "adjoin.ir", "adjoin.ad", "adjoin.backends",
                                "adjoin.api", "adjoin.aot", "adjoin.derivatives")):
                raise ImportError("blocked: " + name)
    sys.meta_path.insert(0, _Block())
""")


@pytest.fixture(scope="module")
def source_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("src")
    (folder / "energy_src.py").write_text(SOURCE)
    sys.path.insert(0, str(folder))
    try:
        import energy_src
        yield folder, energy_src
    finally:
        sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def built(source_module, tmp_path_factory):
    if not HAVE_CC:
        pytest.skip("no C compiler to link libraries")
    _, mod = source_module
    out = tmp_path_factory.mktemp("aot")
    art = adjoin.compile_aot(mod.energy, "f64[:], f64[:], i64", str(out), wrt=("x", "w"))
    return out, art, mod


def _inputs():
    rng = np.random.default_rng(3)
    return rng.uniform(0.1, 1.5, 12), rng.uniform(0.1, 1.0, 12), 9


def _run_python(folder, body: str) -> dict:
    code = BLOCKED + f"sys.path.insert(0, {str(folder)!r})\n" + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_cc
def test_library_loads_and_runs_without_the_compiler(built):
    out, art, mod = built
    x, w, n = _inputs()
    got = _run_python(out, f"""
        import json, numpy as np
        import energy
        x = np.array({x.tolist()}); w = np.array({w.tolist()})
        xs = np.zeros(24); xs[::2] = x  # a strided view is read in place
        v, (gx, gw) = energy.energy_value_and_grad(xs[::2], w, {n})
        gx2, gw2 = energy.energy_grad(x, w, {n})
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("llvmlite", "gast"))
        print(json.dumps(dict(v=v, p=energy.energy(x, w, {n}), gx=gx.tolist(), gw=gw.tolist(),
                              gx2=gx2.tolist(), loaded=loaded, wrt=list(energy.WRT))))
    """)
    assert got["loaded"] == [] and got["wrt"] == ["x", "w"]
    value = mod.energy(x, w, n)
    gx, gw = adjoin.grad(mod.energy, wrt=(0, 1))(x, w, n)
    assert got["p"] == pytest.approx(value, rel=1e-12)
    assert got["v"] == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(got["gx"], gx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["gw"], gw, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got["gx2"], gx, rtol=1e-12, atol=1e-14)


@needs_cc
def test_library_runs_from_c(built, tmp_path):
    out, art, mod = built
    x, w, n = _inputs()
    arr = lambda a: ", ".join(repr(float(v)) for v in a)  # noqa: E731
    (tmp_path / "main.c").write_text(textwrap.dedent(f"""\
        #include <stdio.h>
        #include "energy.h"
        int main(void) {{
            double x[12] = {{{arr(x)}}}, w[12] = {{{arr(w)}}};
            int64_t shape[1] = {{12}}, strides[1] = {{sizeof(double)}};
            adjoin_ctx *ctx = adjoin_ctx_new();
            double v, v2;
            adjoin_array gx, gw;
            if (adjoin_energy(ctx, x, shape, strides, w, shape, strides, {n}, &v)) return 1;
            if (adjoin_energy_grad(ctx, x, shape, strides, w, shape, strides, {n}, 2.0,
                                   &v2, &gx, &gw)) return 1;
            printf("%.17g %.17g %lld\\n", v, v2, (long long)gx.shape[0]);
            for (int i = 0; i < 12; i++)
                printf("%.17g %.17g\\n", ((double *)gx.data)[i], ((double *)gw.data)[i]);
            int64_t bad[1] = {{3}};  /* x too short for n: an index error, not a crash */
            int rc = adjoin_energy(ctx, x, bad, strides, w, shape, strides, {n}, &v);
            printf("%d\\n", rc == ADJOIN_ERR_INDEX);
            adjoin_ctx_free(ctx);
            return 0;
        }}
    """))
    exe = tmp_path / "main"
    cc = aot_module.c_compiler().split()
    subprocess.run(cc + ["-std=c99", "-Wall", "-Werror", "-o", str(exe), str(tmp_path / "main.c"),
                         f"-I{out}", f"-L{out}", "-lenergy", f"-Wl,-rpath,{out}"], check=True)
    lines = subprocess.run([str(exe)], capture_output=True, text=True,
                           check=True).stdout.split("\n")
    v, v2, size = lines[0].split()
    assert float(v) == pytest.approx(mod.energy(x, w, n), rel=1e-12) and int(size) == 12
    gx, gw = adjoin.grad(mod.energy, wrt=(0, 1))(x, w, n)
    got = np.array([[float(t) for t in line.split()] for line in lines[1:13]])
    np.testing.assert_allclose(got[:, 0], 2.0 * gx, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[:, 1], 2.0 * gw, rtol=1e-12, atol=1e-14)
    assert lines[13] == "1"


@needs_cc
def test_header_declares_what_the_library_exports(built):
    out, art, _ = built
    header = open(art.header).read()
    for symbol in ("adjoin_energy(", "adjoin_energy_grad(", "adjoin_energy_info(void)",
                   "adjoin_ctx_new(void)", "const double *x", "const int64_t *w_strides",
                   "adjoin_array *x_bar", "double seed", "#define ADJOIN_ERR_INDEX 1 ",
                   "#define ADJOIN_ERR_FLOAT_DIV 9 ", "#define ADJOIN_ERR_DOMAIN 13 "):
        assert symbol in header
    assert art.info["error_model"] == "python"
    nm = shutil.which("nm")
    if nm:
        syms = subprocess.run([nm, "-D", "--defined-only", art.library], capture_output=True,
                              text=True).stdout
        for s in ("adjoin_energy", "adjoin_energy_grad", "adjoin_energy_info", "adjoin_ctx_new"):
            assert f" {s}\n" in syms


@needs_cc
def test_mutating_function_writes_back_like_cpython(source_module, tmp_path):
    _, mod = source_module
    adjoin.compile_aot(mod.scale_in_place, "f64[:], f64", str(tmp_path), wrt="k")
    got = _run_python(tmp_path, """
        import json, numpy as np
        import scale_in_place as s
        a = np.arange(4.0)
        v = s.scale_in_place(a, 3.0)
        g = s.scale_in_place_grad(np.arange(4.0), 3.0)
        print(json.dumps(dict(v=v, a=a.tolist(), g=g)))
    """)
    a = np.arange(4.0)
    assert got["v"] == mod.scale_in_place(a, 3.0) and got["a"] == a.tolist()
    assert got["g"] == pytest.approx(adjoin.grad(mod.scale_in_place, wrt=1)(np.arange(4.0), 3.0))


@needs_cc
def test_library_of_another_version_or_signature_is_refused(source_module, tmp_path,
                                                             monkeypatch):
    _, mod = source_module
    monkeypatch.setattr(aot_module, "__version__", "0.0.1")
    adjoin.compile_aot(mod.energy, "f64[:], f64[:], i64", str(tmp_path / "old"), wrt="x")
    monkeypatch.undo()
    err = _run_failing(tmp_path / "old", "import energy")
    assert "built by adjoin 0.0.1" in err and "rebuild it" in err

    adjoin.compile_aot(mod.energy, "f64[:], f64[:], i64", str(tmp_path / "new"), wrt="x")
    loader = tmp_path / "new" / "energy.py"
    loader.write_text(loader.read_text().replace("'array<f64, 1>, array<f64, 1>, i64'",
                                                 "'array<f64, 2>, array<f64, 1>, i64'", 1))
    err = _run_failing(tmp_path / "new", "import energy")
    assert "built for signature" in err and "array<f64, 2>" in err


@needs_cc
@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_damaged_library_is_refused_before_it_is_loaded(built, tmp_path, damage):
    """A library cut to half its size used to kill `import` of its loader (SIGBUS):
    the loader checks the size and SHA-256 recorded at build time first."""
    out, art, _ = built
    for name in os.listdir(out):
        if os.path.isfile(out / name):
            shutil.copy(out / name, tmp_path / name)
    lib = tmp_path / os.path.basename(art.library)
    data = lib.read_bytes()
    if damage == "truncated":
        lib.write_bytes(data[:len(data) // 2])
    else:
        k = len(data) // 3
        lib.write_bytes(data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1:])
    err = _run_failing(tmp_path, "import energy")
    assert ("has" if damage == "truncated" else "SHA-256") in err
    assert "rebuild it with `adjoin aot`" in err


def _run_failing(folder, body: str) -> str:
    code = BLOCKED + f"sys.path.insert(0, {str(folder)!r})\n" + body
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0
    assert "AotError" in done.stderr
    return done.stderr


def test_missing_c_compiler_is_a_clear_error(source_module, tmp_path, monkeypatch):
    _, mod = source_module
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(adjoin.ToolchainError, match="needs a C compiler"):
        adjoin.compile_aot(mod.energy, "f64[:], f64[:], i64", str(tmp_path / "out"))


def test_bad_aot_requests_are_clear_errors(source_module, tmp_path):
    _, mod = source_module
    with pytest.raises(TypeError, match="takes 3 arguments"):
        adjoin.compile_aot(mod.energy, "f64[:], i64", str(tmp_path))
    with pytest.raises(TypeError, match="cannot differentiate"):
        adjoin.compile_aot(mod.energy, "f64[:], f64[:], i64", str(tmp_path), wrt="n")
    with pytest.raises(ValueError, match="not a Python identifier"):
        adjoin.compile_aot(mod.energy, "f64[:], f64[:], i64", str(tmp_path), name="a-b")


@needs_cc
def test_cli_builds_a_library(source_module, tmp_path, capsys):
    folder, _ = source_module
    target = f"{folder / 'energy_src.py'}:energy"
    assert main(["aot", target, "--signature", "f64[:], f64[:], i64", "-o",
                 str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "libenergy.so" in printed and "energy.h" in printed
    assert "WRT = ('x',)" in (tmp_path / "energy.py").read_text()
    assert main(["aot", target, "-o", str(tmp_path)]) == 2
    assert "--signature" in capsys.readouterr().err


# -- LLVM IR -----------------------------------------------------------------------------------


def test_llvm_ir_of_primal_and_gradient(source_module):
    _, mod = source_module
    x, w, n = _inputs()
    primal = adjoin.llvm_ir(mod.energy, x, w, n)
    raw = adjoin.llvm_ir(mod.energy, x, w, n, optimized=False)
    grad = adjoin.llvm_ir(mod.energy, signature="f64[:], f64[:], i64", wrt="x")
    # the symbol may carry a suffix when an earlier test compiled another `energy`
    assert "define" in primal and re.search(r"@adjoin_energy(_\d+)?\(", primal)
    assert raw != primal and "adjoin_ctx_new" in raw
    assert re.search(r"energy(_\d+)?_(value_and_)?grad", grad)
    assert "llvm.log" in raw or "@log" in raw


def test_show_emits_llvm(source_module, capsys):
    folder, _ = source_module
    target = f"{folder / 'energy_src.py'}:energy"
    assert main(["show", target, "--signature", "f64[:], f64[:], i64", "--emit", "llvm"]) == 0
    out = capsys.readouterr().out
    assert "define" in out and "target triple" in out and "error_model=python" in out
    assert main(["show", target, "--signature", "f64[:], f64[:], i64", "--emit", "llvm",
                 "--error-model", "numpy"]) == 0
    assert "error_model=numpy" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["show", target, "--signature", "f64[:], f64[:], i64", "--error-model", "ieee"])


# -- the disk cache ----------------------------------------------------------------------------

CACHED = textwrap.dedent("""\
    import json, sys
    import numpy as np
    import adjoin
    sys.path.insert(0, {folder!r})
    from energy_src import energy
    x = np.linspace(0.2, 1.2, 12); w = np.linspace(1.0, 0.1, 12)
    g = adjoin.grad(energy, wrt=0, backend="llvm")(x, w, 9)
    print(json.dumps(g.tolist()))
""")


def test_disk_cache_is_shared_by_processes_filling_it_at_once(source_module, tmp_path):
    folder, mod = source_module
    env = dict(os.environ, ADJOIN_CACHE_DIR=str(tmp_path / "cache"))
    code = CACHED.format(folder=str(folder))
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    objects = os.listdir(tmp_path / "cache" / "objects")  # machine code by LLVM IR
    assert len(objects) == 1 and objects[0].endswith(".o")  # no temporary file left
    x, w = np.linspace(0.2, 1.2, 12), np.linspace(1.0, 0.1, 12)
    want = adjoin.grad(mod.energy, wrt=0)(x, w, 9)
    for out, _ in outs:
        np.testing.assert_allclose(json.loads(out), want, rtol=1e-12)

    # A damaged entry is ignored and rewritten.
    for kind in ("objects", "entries"):
        for path in (tmp_path / "cache" / kind).iterdir():
            path.write_bytes(path.read_bytes()[:-7] + b"garbage")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    np.testing.assert_allclose(json.loads(done.stdout), want, rtol=1e-12)
    from adjoin.backends.llvm import cache
    from adjoin import cache_store
    try:
        cache_store.set_cache_dir(str(tmp_path / "cache"))
        assert cache.load(objects[0][:-2]) is not None
    finally:
        cache_store.reset_cache_dir()


def test_cache_is_on_unless_turned_off(monkeypatch, tmp_path):
    from adjoin.backends.llvm import cache
    from adjoin import cache_store
    monkeypatch.delenv("ADJOIN_CACHE_DIR", raising=False)
    monkeypatch.setenv("ADJOIN_LLVM_CACHE", str(tmp_path))  # the deprecated name of the root
    assert cache.cache_dir() == str(tmp_path / "objects")
    monkeypatch.setenv("ADJOIN_CACHE", "0")
    assert cache.cache_dir() is None
    monkeypatch.delenv("ADJOIN_CACHE")
    try:
        adjoin.set_cache_dir(None)
        assert cache.cache_dir() is None
    finally:
        cache_store.reset_cache_dir()


def test_one_version_everywhere():
    import re
    from adjoin import runtime
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    text = open(os.path.join(root, "pyproject.toml")).read()
    assert re.search(r'^version = "([^"]+)"', text, re.M).group(1) == runtime.__version__
    assert adjoin.__version__ == runtime.__version__
