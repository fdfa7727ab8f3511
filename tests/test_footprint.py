"""adjoin writes only where it is told: compiling on every backend (and ahead of time)
leaves nothing in the temp folder or the working directory, whether the disk cache is on
(generated files go to its folder) or off (a private folder removed at exit)."""
import os
import subprocess
import sys
import textwrap

import pytest

SOURCE = textwrap.dedent("""\
    import numpy as np


    def energy(x, k):
        return k * np.sum(np.sin(x) * x)
    """)

SCRIPT = textwrap.dedent("""\
    import importlib, shutil, sys
    import numpy as np
    import adjoin
    sys.path.insert(0, {src!r})
    from energy_fp import energy
    x = np.linspace(0.1, 1.0, 4)
    want = 2.0 * (np.cos(x) * x + np.sin(x))
    backends = ["python", "llvm"]
    if importlib.util.find_spec("torch") is not None:
        backends.append("torch")
    for b in backends:
        g = adjoin.grad(energy, backend=b)(x, 2.0)
        assert np.allclose(np.asarray(g), want), (b, g)
        assert np.allclose(adjoin.hessian(energy, backend=b)(x, 2.0).diagonal(),
                           2.0 * (2 * np.cos(x) - x * np.sin(x))), b
    if {aot} and any(shutil.which(c) for c in ("cc", "gcc", "clang")):
        art = adjoin.compile_aot(energy, "f64[:], f64", {aot_dir!r}, wrt="x")
        print("aot", art.library)
    print("ok", ",".join(backends))
    """)


@pytest.mark.parametrize("cache", ["on", "off"])
def test_compiling_leaves_nothing_in_tmp_or_cwd(tmp_path, cache):
    tmp, work, src, cache_dir = (tmp_path / n for n in ("tmp", "work", "src", "cache"))
    for d in (tmp, work, src):
        d.mkdir()
    (src / "energy_fp.py").write_text(SOURCE)
    script = src / "run.py"
    script.write_text(SCRIPT.format(src=str(src), aot=cache == "on",
                                    aot_dir=str(tmp_path / "aot")))
    env = dict(os.environ, TMPDIR=str(tmp), ADJOIN_CACHE_DIR=str(cache_dir),
               ADJOIN_CACHE="1" if cache == "on" else "off")
    p = subprocess.run([sys.executable, str(script)], cwd=work, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "ok python,llvm" in p.stdout
    assert sorted(os.listdir(tmp)) == [], "written to the temp folder"
    assert sorted(os.listdir(work)) == [], "written to the working directory"
    assert sorted(os.listdir(src)) in (["energy_fp.py", "run.py"],
                                       ["__pycache__", "energy_fp.py", "run.py"])
    if cache == "on":
        assert (cache_dir / "python").is_dir()  # the python backend's files went here
        if "aot " in p.stdout:
            assert sorted(os.listdir(tmp_path / "aot"))  # the library, header and loader
