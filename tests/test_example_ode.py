"""examples/pipelines/ode_fit.py: the simulator, its log-likelihood and the prior against
CPython and central differences on every backend (tiny sizes), and the quick fit: the rates,
the observation error and the loss improve, and the noise scale moves toward the truth."""
import importlib.util
import math
import os

import numpy as np
import pytest

import adjoin

torch = pytest.importorskip("torch")

PATH = os.path.join(os.path.dirname(__file__), "..", "examples", "pipelines", "ode_fit.py")
spec = importlib.util.spec_from_file_location("ode_fit", PATH)
ode = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ode)

BACKENDS = ["python", "llvm", "torch"]
RNG = np.random.default_rng(5)
X0, OBSERVED = ode.make_data(2, seed=3)
PARAMS = ode.to_params({"alpha": 1.0, "beta": 0.5, "gamma": 1.3, "delta": 0.35}, 0.4)
CASES = {
    "simulate": (ode.simulate, (X0,), RNG.standard_normal((2, ode.N_OBS, 2))),
    "log_likelihood": (ode.log_likelihood, (X0, OBSERVED), np.array([0.7, -1.3])),
    "log_prior": (ode.log_prior, (), 1.0),
}


def central_differences(fn, params, inputs, cotangent, h=1e-6):
    """<cotangent, fn> differentiated by every log-parameter and every initial population."""
    def dot(p, xs):
        return float(np.sum(fn(p, *xs) * cotangent))
    grads = {k: (dot({**params, k: v + h}, inputs) - dot({**params, k: v - h}, inputs)) / (2 * h)
             for k, v in params.items()}
    if not inputs:
        return grads, None
    x0 = inputs[0]
    gx = np.zeros_like(x0)
    for i in np.ndindex(x0.shape):
        hi, lo = x0.copy(), x0.copy()
        hi[i] += h
        lo[i] -= h
        gx[i] = (dot(params, (hi,) + inputs[1:]) - dot(params, (lo,) + inputs[1:])) / (2 * h)
    return grads, gx


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(CASES))
def test_step_functions_values_and_gradients(name, backend):
    fn, inputs, cotangent = CASES[name]
    expected = fn(PARAMS, *inputs)
    out, pullback = adjoin.vjp(fn, PARAMS, *inputs, backend=backend)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert np.shape(out) == np.shape(expected)
    grads = pullback(cotangent)
    want, want_x0 = central_differences(fn, PARAMS, inputs, cotangent)
    for key in PARAMS:
        assert float(grads[0][key]) == pytest.approx(want[key], rel=1e-6, abs=1e-6), key
    if want_x0 is not None:
        np.testing.assert_allclose(grads[1], want_x0, rtol=1e-6, atol=1e-6)


def test_quick_fit_recovers_the_rates():
    figures = ode.main(quick=True)
    assert figures["rate_error_after"] < 0.1 * figures["rate_error_before"]
    assert figures["rmse_after"] < 0.5 * figures["rmse_before"]
    assert figures["loss_after"] < figures["loss_before"] - 0.3 * abs(figures["loss_before"])
    # the noise scale starts at 1.0; the truth is 0.2
    assert abs(math.log(figures["sigma_learned"] / figures["sigma_true"])) < 0.5
    assert figures["seconds_per_step"]["llvm"] > 0
