"""examples/pipelines/digits_end_to_end.py: end-to-end refinement of a torch -> scikit-learn
-> adjoin pipeline lowers held-out error (quick mode), and its regression's functions match
NumPy and finite differences."""
import os
import runpy

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

import adjoin  # noqa: E402
from adjoin.testing import numeric_grad  # noqa: E402

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "examples", "pipelines", "digits_end_to_end.py")


@pytest.fixture(scope="module")
def example():
    return runpy.run_path(EXAMPLE)


def test_end_to_end_refinement_beats_the_separately_trained_pipeline(example):
    figures = example["main"](quick=True)
    separate = figures["test_rmse_separately_trained"]
    assert figures["test_rmse_end_to_end"] < 0.97 * separate
    assert figures["test_rmse_end_to_end"] < figures["test_rmse_last_step_only"]
    assert figures["seconds_per_step"]["llvm"] > 0
    steps = [s for s, _ in figures["curves"]["end to end"]]
    assert steps[0] == 0 and steps[-1] == 39


@pytest.mark.parametrize("backend", ["python", "llvm", "torch"])
def test_the_regression_log_likelihood_and_prior_match_numpy_and_differences(example, backend):
    rng = np.random.default_rng(1)
    p = {"w": rng.normal(size=3), "b": 0.3, "log_s2": -0.4}
    z, y = rng.normal(size=(5, 3)), rng.normal(size=5)
    ll = example["blr_log_likelihood"]
    out, pullback = adjoin.vjp(ll, p, z, y, backend=backend)
    s2 = np.exp(-0.4)
    ref = -0.5 * ((y - z @ p["w"] - 0.3) ** 2 / s2 + np.log(2 * np.pi * s2))
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    p_bar, z_bar, _ = pullback(np.ones(5))
    for key in ("b", "log_s2"):
        def total(v, key=key):
            return float(np.sum(ll(dict(p, **{key: v}), z, y)))
        assert p_bar[key] == pytest.approx(numeric_grad(total, (p[key],), (0,))[0], rel=1e-6)
    z_fd = numeric_grad(lambda zz: float(np.sum(ll(p, zz, y))), (z,), (0,))[0]
    np.testing.assert_allclose(z_bar, z_fd, rtol=1e-6, atol=1e-8)
    prior_grad = adjoin.grad(example["blr_log_prior"], backend=backend)(p)
    np.testing.assert_allclose(prior_grad["w"], -p["w"] / 100.0, rtol=1e-12)
