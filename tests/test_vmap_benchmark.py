"""benchmarks/vmap.py: its columns compute the gradients of the workload it names.

Each column's per-example gradients (the adjoin loop, the JAX while_loop and masked-scan
rewrites, the torch.func fixed-step rewrite, adjoin.vmap once it exists) are checked
against central differences of the plain-Python loss run by CPython, on a short and a
long instance, and the --quick run (which itself asserts that the columns agree with
the loop on all its instances) is checked for its table. JAX and torch parts skip where
the package is missing.
"""
import math

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad
from benchmarks import vmap as bench

T = bench.T_END


def _has(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


@pytest.fixture(scope="module")
def cases():
    """(k, c) of the quick batch's first instance and its longest one, and their steps."""
    k, c = bench.instances(bench.QUICK_B)
    steps = [bench.simulate(a, b, T)[3] for a, b in zip(k.tolist(), c.tolist())]
    pick = [0, int(np.argmax(steps))]
    assert steps[pick[1]] > steps[pick[0]]  # two different trip counts
    return k[pick], c[pick], max(steps[i] for i in pick)


def fd_rows(fn, k, c, *rest):
    """Central differences of a plain-Python loss wrt (k, c), one row per instance."""
    return np.array([numeric_grad(fn, [a, b, *rest], [0, 1])
                     for a, b in zip(k.tolist(), c.tolist())])


def adaptive_fd(k, c):
    """fd_rows of `loss`, after checking that no perturbation changes the trip count
    (the loss is smooth only between trip counts)."""
    for a, b in zip(k.tolist(), c.tolist()):
        n = bench.simulate(a, b, T)[3]
        for da, db in ((1e-6, 0), (-1e-6, 0), (0, 1e-6), (0, -1e-6)):
            assert bench.simulate(a + da, b + db, T)[3] == n
    return fd_rows(bench.loss, k, c, T)


def check(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-8)


def test_trip_counts_vary_in_the_suggested_range():
    counts = bench.trip_counts(*bench.instances(bench.QUICK_B))
    assert 30 <= counts.min() and counts.max() <= 200 and counts.max() > 2 * counts.min()


def test_adjoin_loop_matches_finite_differences(cases):
    k, c, _ = cases
    got = bench.adjoin_loop()(k, c)
    check(got, adaptive_fd(k, c))
    assert got.shape == (2, 2)


@pytest.mark.skipif(not _has("jax"), reason="jax is not installed")
@pytest.mark.parametrize("kind", ["while", "scan"])
def test_jax_rewrites_match_finite_differences(cases, kind):
    k, c, n = cases
    fn = bench.loss_lax if kind == "while" else (lambda a, b, t: bench.loss_scan(a, b, t, n))
    for a, b in zip(k.tolist(), c.tolist()):  # the same adaptive steps: the same loss
        assert math.isclose(float(fn(a, b, T)), bench.loss(a, b, T), rel_tol=1e-12)
    check(bench.jax_batched(kind, n)(k, c), adaptive_fd(k, c))


@pytest.mark.skipif(not _has("jax"), reason="jax is not installed")
def test_masked_scan_too_short_is_a_different_loss(cases):
    """The scan must run at least the trip count: one step fewer changes the loss."""
    k, c, n = cases
    a, b = float(k[1]), float(c[1])
    assert not math.isclose(float(bench.loss_scan(a, b, T, n - 1)), bench.loss(a, b, T),
                            rel_tol=1e-6)


@pytest.mark.skipif(not _has("torch"), reason="torch is not installed")
def test_torch_fixed_step_rewrite_matches_finite_differences(cases):
    k, c, n = cases
    got = bench.torch_batched(n)(k, c)
    check(got, fd_rows(bench.loss_fixed, k, c, T, n))
    ref = adjoin.grad(bench.loss_fixed, wrt=(0, 1), backend="llvm")
    want = np.array([ref(a, b, T, n) for a, b in zip(k.tolist(), c.tolist())])
    np.testing.assert_allclose(got, want, rtol=1e-10)


@pytest.mark.skipif(not hasattr(adjoin, "vmap"), reason="adjoin.vmap is not there yet")
@pytest.mark.parametrize("backend", ["llvm", "torch"])
def test_adjoin_vmap_matches_finite_differences(cases, backend):
    k, c, _ = cases
    got = bench.adjoin_vmap(backend)(k, c)
    check(got, adaptive_fd(k, c))
    np.testing.assert_allclose(got, bench.adjoin_loop()(k, c), rtol=1e-8)


def test_quick_run_prints_every_column(capsys):
    assert bench.main(["--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split(" | ")[0][2:]: line.split(" | ")[1:]
            for line in out.splitlines() if line.startswith("| (")}
    assert len(rows) == 6 and f"B = {bench.QUICK_B};" in out
    assert float(rows["(2) adjoin llvm grad, Python loop"][0]) > 0
    vmap_row = rows["(1) adjoin llvm vmap(grad)"]
    if hasattr(adjoin, "vmap"):
        assert float(vmap_row[0]) > 0 and "target (2) / (1) >= 5: n/a" not in out
    else:
        assert vmap_row[0] == "n/a" and "adjoin.vmap missing" in vmap_row[3]
    jax_row = rows["(3) jax vmap(jacfwd), while_loop"]
    if _has("jax"):
        assert float(jax_row[0]) > 0
    else:
        assert jax_row[0] == "n/a" and "jax not installed" in jax_row[3]
