"""The examples run and do what they say."""
import os
import runpy
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_newton_converges(capsys):
    mod = runpy.run_path(os.path.join(ROOT, "examples", "newton.py"))
    import numpy as np
    x = mod["newton"](np.array([3.0, 2.0]), 12, steps=5)
    import adjoin
    g = adjoin.grad(mod["objective"])(x, 12)
    assert np.linalg.norm(g) < 1e-10
    assert "step 4" in capsys.readouterr().out


def test_quickstart_shows_ir_and_gradient():
    out = subprocess.run([sys.executable, "-m", "adjoin.cli", "show", "--ir",
                          os.path.join(ROOT, "examples", "quickstart.py") + ":poly_energy",
                          "--args", "0.5, 8"], capture_output=True, text=True, check=True)
    assert "func @poly_energy(%x: f64, %n: i64) -> f64" in out.stdout
    assert "def poly_energy_grad(x, n, out_bar=1.0):" in out.stdout
    assert "for i in reversed(range(n)):" in out.stdout


def test_aot_example_runs_from_c_and_python(tmp_path):
    import shutil
    import pytest
    if not any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        pytest.skip("no C compiler to link the library")
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "aot", "build.py"),
                          str(tmp_path / "build")],  # not into the checkout
                         capture_output=True, text=True, check=True).stdout
    assert (tmp_path / "build" / "chain_energy.h").is_file()
    finals = [line.split(": ", 1)[1] for line in out.splitlines() if "final energy" in line]
    assert len(finals) == 2 and finals[0] == finals[1]  # C and Python agree to 10 digits
    first = [float(line.split()[-1]) for line in out.splitlines() if "step   0" in line]
    assert first == [35.0, 35.0]
    assert float(finals[0].split()[2].rstrip(",")) < 2.5  # the chain settled


def test_torch_layer_example_trains():
    import pytest
    pytest.importorskip("torch")
    mod = runpy.run_path(os.path.join(ROOT, "examples", "torch_layer.py"))
    losses = mod["train"](steps=25)
    assert losses[-1] < 0.1 * losses[0]


def test_numpy_mlp_trains_unchanged_on_every_backend(capsys):
    import numpy as np
    mod = runpy.run_path(os.path.join(ROOT, "examples", "mlp_numpy.py"))
    _, history, acc = mod["train"]("python", steps=200)
    assert history[-1] < 0.5 * history[0] and acc > 0.9
    for backend in ("llvm", "torch"):
        _, other, _ = mod["train"](backend, steps=20)
        np.testing.assert_allclose(other, history[:20], rtol=1e-9)
    assert "final loss" in capsys.readouterr().out


def test_the_pipeline_examples_run_in_quick_mode_as_the_readme_says():
    import re
    import pytest
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    readme = open(os.path.join(ROOT, "README.md")).read()
    commands = re.findall(r"^python (examples/pipelines/\w+\.py) --quick", readme, re.M)
    assert len(commands) == 4
    runs = [subprocess.Popen([sys.executable, os.path.join(ROOT, path), "--quick"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            for path in commands]
    for path, run in zip(commands, runs):
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, f"{path}: {err[-2000:]}"
        assert "per" in out and "step" in out, f"{path} printed no timing: {out}"
    assert not any(name.endswith(".png") for name in os.listdir(os.path.join(
        ROOT, "examples", "pipelines")))  # quick mode writes no plot
