"""Compile feedback: `adjoin.compile_stats()` records each compile's phase times, and a
compile reaching ADJOIN_LOG_THRESHOLD seconds logs one INFO line on the "adjoin"
logger (silent unless configured; ADJOIN_LOG=info adds a stderr handler)."""
import importlib.util
import logging
import math
import os
import subprocess
import sys
import textwrap

import pytest

import adjoin

SOURCE = textwrap.dedent("""\
    import numpy as np


    def energy(x, n):
        s = 0.0
        for i in range(n):
            s = s + np.sin(x) * i
        return s
    """)


def fresh_function(tmp_path, name="energy_mod"):
    """`energy` from a new module: never compiled before in this process."""
    path = tmp_path / f"{name}.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.energy, path


@pytest.mark.parametrize("backend", ["python", "llvm", "torch"])
def test_threshold_zero_logs_one_line_per_compile(tmp_path, caplog, monkeypatch, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    monkeypatch.setenv("ADJOIN_LOG_THRESHOLD", "0")
    f, _ = fresh_function(tmp_path, f"energy_{backend}")
    before = len(adjoin.compile_stats())
    with caplog.at_level(logging.INFO, logger="adjoin"):
        g = adjoin.grad(f, backend=backend)(0.5, 3)
    assert abs(g - 3 * math.cos(0.5)) < 1e-12  # d/dx sum_i sin(x) i
    lines = [r.getMessage() for r in caplog.records if r.name == "adjoin"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("compiled energy") and f"({backend} backend)" in lines[0]
    for phase in ("frontend", "AD", "codegen"):
        assert phase in lines[0]
    new = adjoin.compile_stats()[before:]
    assert len(new) == 1
    rec = new[0]
    assert rec["function"].startswith("energy") and rec["function"].endswith("_grad")
    assert rec["backend"] == backend
    assert rec["frontend"] > 0 and rec["ad"] > 0 and rec["codegen"] > 0
    assert abs(rec["total"] - (rec["frontend"] + rec["ad"] + rec["codegen"])) < 1e-5
    # Compiled once: a second call compiles nothing and logs nothing.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="adjoin"):
        adjoin.grad(f, backend=backend)(0.7, 3)
    assert not [r for r in caplog.records if r.name == "adjoin"]
    assert len(adjoin.compile_stats()) == before + 1


def test_below_threshold_is_recorded_but_not_logged(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("ADJOIN_LOG_THRESHOLD", "1000")
    f, _ = fresh_function(tmp_path, "energy_quiet")
    before = len(adjoin.compile_stats())
    with caplog.at_level(logging.INFO, logger="adjoin"):
        assert f(0.5, 3) == adjoin.differentiable(f)(0.5, 3)
    assert not [r for r in caplog.records if r.name == "adjoin"]
    new = adjoin.compile_stats()[before:]
    assert [r["function"].split("_")[0] for r in new] == ["energy"]
    assert new[0]["ad"] == 0.0  # the primal: no derivative built


SCRIPT = textwrap.dedent("""\
    import sys
    sys.path.insert(0, {dir!r})
    import adjoin
    from energy_sub import energy
    print(adjoin.grad(energy)(0.5, 3))
    """)


@pytest.mark.parametrize("env,logged", [({"ADJOIN_LOG": "info"}, True), ({}, False)],
                         ids=["ADJOIN_LOG=info", "silent"])
def test_adjoin_log_env_prints_on_stderr(tmp_path, env, logged):
    (tmp_path / "energy_sub.py").write_text(SOURCE)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(dir=str(tmp_path)))
    full = {k: v for k, v in os.environ.items() if k not in ("ADJOIN_LOG",)}
    full.update(env, ADJOIN_LOG_THRESHOLD="0")
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       env=full, timeout=120)
    assert p.returncode == 0, p.stderr
    assert abs(float(p.stdout) - 3 * math.cos(0.5)) < 1e-12
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("adjoin: compiled")]
    assert len(lines) == (1 if logged else 0), p.stderr
    if logged:
        assert "energy" in lines[0] and "frontend" in lines[0] and "codegen" in lines[0]
