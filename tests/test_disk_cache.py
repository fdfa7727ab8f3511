"""The persistent disk cache: a repeat run in a fresh process compiles nothing, and a
stale entry is never used.

Each test writes a small program (a function calling a helper in another file and
reading a global constant) under tmp_path and runs it in fresh processes, which report
their results and the compile phases they ran (`adjoin.compile_phases.COUNTS`).
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import adjoin
from adjoin import cache_store

PROGRAM = """\
from helper import term
SCALE = 2.0


def energy(x, n):
    total = 0.0
    for i in range(n):
        total += SCALE * term(x[i])
    return total
"""
SQUARE = "def term(v):\n    return v * v\n"
CUBE = "def term(v):\n    return v * v * v\n"

RUN = textwrap.dedent("""\
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    import adjoin
    import prog
    if len(sys.argv) > 3:
        prog.SCALE = float(sys.argv[3])
    x = np.linspace(0.1, 1.0, 5)
    value = adjoin.differentiable(prog.energy, backend=sys.argv[2])(x, 3)
    grad = adjoin.grad(prog.energy, backend=sys.argv[2])(x, 3)
    from adjoin.compile_phases import COUNTS
    print(json.dumps({"value": value, "grad": grad.tolist(), "counts": dict(COUNTS)}))
""")
COMPILING = ("frontend", "ad", "llvm", "python_codegen")
X = np.linspace(0.1, 1.0, 5)


def expected(scale: float, cube: bool):
    x = X[:3]
    value = scale * np.sum(x ** 3 if cube else x ** 2)
    grad = np.zeros(5)
    grad[:3] = scale * (3 * x ** 2 if cube else 2 * x)
    return value, grad


@pytest.fixture
def program(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "prog.py").write_text(PROGRAM)
    (src / "helper.py").write_text(SQUARE)
    return src


def run(src, cache, backend="python", *extra, env=None, wait=True):
    env = dict(os.environ if env is None else env, ADJOIN_CACHE_DIR=str(cache),
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("ADJOIN_CACHE", None)
    cmd = [sys.executable, "-c", RUN, str(src), backend, *map(str, extra)]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    return finish(p) if wait else p


def finish(p):
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    return json.loads(out)


def check(out, scale=2.0, cube=False):
    value, grad = expected(scale, cube)
    assert out["value"] == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(out["grad"], grad, rtol=1e-12)


def compiled_anything(out) -> bool:
    return any(out["counts"].get(k) for k in COMPILING)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_a_repeat_run_compiles_nothing(program, tmp_path, backend):
    first = run(program, tmp_path / "cache", backend)
    check(first)
    assert first["counts"]["frontend"] >= 1 and first["counts"]["disk_store"] == 2
    second = run(program, tmp_path / "cache", backend)
    check(second)
    assert not compiled_anything(second), second["counts"]
    assert second["counts"]["disk_hit"] == 2
    assert second["value"] == first["value"] and second["grad"] == first["grad"]


def test_editing_a_callee_in_another_file_misses(program, tmp_path):
    check(run(program, tmp_path / "cache"))
    (program / "helper.py").write_text(CUBE)
    out = run(program, tmp_path / "cache")
    check(out, cube=True)
    assert out["counts"]["frontend"] >= 1 and not out["counts"].get("disk_hit")


def test_a_changed_global_constant_misses(program, tmp_path):
    check(run(program, tmp_path / "cache", "python", 2.0))
    out = run(program, tmp_path / "cache", "python", 3.0)
    check(out, scale=3.0)
    assert out["counts"]["frontend"] >= 1 and not out["counts"].get("disk_hit")
    again = run(program, tmp_path / "cache", "python", 3.0)  # each value has its entry
    check(again, scale=3.0)
    assert not compiled_anything(again)


def test_adjoin_cache_0_writes_nothing(program, tmp_path):
    env = dict(os.environ, ADJOIN_CACHE="0")
    env["ADJOIN_CACHE_DIR"] = str(tmp_path / "cache")
    p = subprocess.run([sys.executable, "-c", RUN, str(program), "python"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    check(json.loads(p.stdout))
    assert not (tmp_path / "cache").exists()


def test_a_damaged_entry_is_ignored_and_rewritten(program, tmp_path):
    cache = tmp_path / "cache"
    run(program, cache)
    entries = sorted((cache / "entries").iterdir())
    assert len(entries) == 2
    for path in entries:
        data = path.read_bytes()
        path.write_bytes(data[:-9] + b"garbage!!")
    out = run(program, cache)
    check(out)
    assert out["counts"]["frontend"] >= 1 and out["counts"]["disk_store"] == 2
    assert not compiled_anything(run(program, cache))  # rewritten whole


def test_processes_filling_one_cache_at_once_all_succeed(program, tmp_path):
    cache = tmp_path / "cache"
    procs = [run(program, cache, "llvm" if k % 2 else "python", wait=False) for k in range(4)]
    for p in procs:
        check(finish(p))
    names = [n for d in cache.iterdir() for n in os.listdir(d)]
    assert names and not [n for n in names if n.startswith(".tmp")]
    assert not compiled_anything(run(program, cache, "llvm"))


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ADJOIN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("ADJOIN_CACHE", raising=False)
    cache_store.reset_cache_dir()
    yield tmp_path / "cache"
    cache_store.reset_cache_dir()


def test_eviction_keeps_the_size_bound_and_the_recently_used(private_cache, monkeypatch):
    monkeypatch.setenv("ADJOIN_CACHE_SIZE", "20k")
    for k in range(30):
        assert cache_store.store("entries", f"e{k}", bytes(2000))
        if k >= 1:
            assert cache_store.load("entries", "e0") == bytes(2000)  # used: kept
        os.utime(private_cache / "entries" / f"e{k}.bin", (k, 1e9 + k))
        os.utime(private_cache / "entries" / "e0.bin")  # the newest use
        info = adjoin.cache_info()
        assert info["bytes"] <= 20 * 1024, info
    assert cache_store.load("entries", "e0") is not None
    assert cache_store.load("entries", "e1") is None  # the least recently used went first
    assert adjoin.clear_cache() > 0 and adjoin.cache_info()["files"] == 0


def test_cache_root_settings(private_cache, monkeypatch):
    assert cache_store.root() == str(private_cache)
    monkeypatch.setenv("ADJOIN_CACHE", "0")
    assert cache_store.root() is None and not cache_store.store("entries", "k", b"x")
    monkeypatch.delenv("ADJOIN_CACHE")
    monkeypatch.delenv("ADJOIN_CACHE_DIR")
    monkeypatch.delenv("ADJOIN_LLVM_CACHE", raising=False)
    import platformdirs
    assert cache_store.root() == platformdirs.user_cache_dir("adjoin", appauthor=False)
    monkeypatch.setenv("ADJOIN_LLVM_CACHE", str(private_cache / "old"))  # deprecated name
    assert cache_store.root() == str(private_cache / "old")
    adjoin.set_cache_dir(None)
    assert cache_store.root() is None and adjoin.cache_info()["enabled"] is False
    adjoin.set_cache_dir(str(private_cache / "mine"))
    assert cache_store.folder("entries") == str(private_cache / "mine" / "entries")


def test_the_cache_command(private_cache, capsys):
    from adjoin.cli import main
    cache_store.store("entries", "k", bytes(100))
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(private_cache) in out and "entries: 1 files" in out
    assert main(["cache", "clear"]) == 0 and "removed" in capsys.readouterr().out
    assert adjoin.cache_info()["files"] == 0
