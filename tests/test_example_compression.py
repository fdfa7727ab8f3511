"""examples/pipelines/compression.py: its steps' values and derivatives on every backend
(against NumPy and central finite differences; the two straight-through estimators
against what they promise), and the quick run: training lowers the rate-distortion loss
and the learned codec beats PCA + uniform quantization at the same rate."""
import os
import sys

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples", "pipelines"))
import compression as C  # noqa: E402

BACKENDS = ["python", "llvm", "torch"]
RNG = np.random.default_rng(7)
N, PIXELS, LATENTS = 4, 5, 3
ENC = {"W": RNG.normal(0, 0.5, (PIXELS, LATENTS)), "b": RNG.normal(0, 0.5, LATENTS)}
DEC = {"W": RNG.normal(0, 0.5, (LATENTS, PIXELS)), "b": RNG.normal(0, 0.5, PIXELS)}
PRIOR = {"log_scale": RNG.normal(0, 0.5, LATENTS)}
X = RNG.uniform(0, 1, (N, PIXELS))
# latents away from the half-integers, where round jumps
Z = np.round(RNG.normal(0, 2, (N, LATENTS))) + RNG.uniform(-0.4, 0.4, (N, LATENTS))


def check_step(fn, params, inputs, backend, inputs_fd=True):
    """fn(params, *inputs) on `backend` equals NumPy; its pullback equals central
    differences of <cotangent, fn> in every parameter and (if inputs_fd) every input."""
    expected = fn(params, *inputs)
    out, pullback = adjoin.vjp(fn, params, *inputs, backend=backend)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    cot = RNG.normal(size=np.shape(expected))
    grads = pullback(cot)
    for key in params:
        def by_param(a, key=key):
            return float(np.sum(fn({**params, key: a}, *inputs) * cot))
        want = numeric_grad(by_param, [params[key]], [0])[0]
        np.testing.assert_allclose(grads[0][key], want, rtol=1e-6, atol=1e-7)
    if inputs_fd:
        def by_inputs(*xs):
            return float(np.sum(fn(params, *xs) * cot))
        wants = numeric_grad(by_inputs, list(inputs), range(len(inputs)))
        for got, want in zip(grads[1:], wants):
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    return grads, cot


@pytest.mark.parametrize("backend", BACKENDS)
def test_encoder_decoder_and_loss_match_numpy_and_finite_differences(backend):
    check_step(C.encode, ENC, (X,), backend)
    check_step(C.decode, DEC, (Z,), backend)
    x_hat = C.decode(DEC, np.round(Z))
    # the loss of the last step: FD in the prior and in the reconstruction (not in z:
    # its rate is a step function of z)
    grads, cot = check_step(C.make_rd_loss(0.3), PRIOR, (x_hat, Z, X), backend, inputs_fd=False)
    np.testing.assert_allclose(grads[1], 2 * (x_hat - X) * cot[:, None], rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
def test_quantizer_rounds_forward_and_passes_gradients_straight_through(backend):
    out, pullback = adjoin.vjp(C.quantize, {}, Z, backend=backend)
    np.testing.assert_array_equal(out, np.round(Z))
    cot = RNG.normal(size=Z.shape)
    np.testing.assert_array_equal(pullback(cot)[1], cot)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rate_is_bits_of_the_codes_with_the_secant_as_derivative(backend):
    grads, cot = check_step(C.rate_bits, PRIOR, (Z,), backend, inputs_fd=False)
    s = np.exp(PRIOR["log_scale"])
    below = np.floor(Z)
    np.testing.assert_allclose(C.rate_bits(PRIOR, Z), np.sum(C.code_bits(np.round(Z), s), axis=1))
    secant = C.code_bits(below + 1, s) - C.code_bits(below, s)
    np.testing.assert_allclose(grads[1], secant * cot[:, None], rtol=1e-10, atol=1e-12)
    # the bits of a code: a discretized logistic, whose masses over all codes sum to 1
    codes = np.arange(-60.0, 61.0)[:, None]
    assert np.sum(2.0 ** -C.code_bits(codes, s), axis=0) == pytest.approx(np.ones(LATENTS))


def test_quick_run_learns_and_beats_pca_at_the_same_rate():
    figures = C.main(quick=True)
    (run,) = figures["runs"]
    before, after, pca = run["before"], run["after"], run["baseline"]
    assert after["loss"] < 0.5 * before["loss"]
    assert after["mse"] < 0.3 * before["mse"]
    assert abs(pca["histogram_bits"] - after["histogram_bits"]) < 0.1
    assert after["mse"] < 0.95 * pca["mse"]
    assert figures["seconds_per_step"]["llvm"] > 0


def test_pipeline_gradient_equals_the_gradient_of_the_codec_as_one_function():
    # z feeds both the quantizer and the loss: the pipeline must add the two gradients
    # (the wiring does not depend on the backend; the steps are checked on each above)
    torch = pytest.importorskip("torch")
    backend = "python"
    params = C.initial_params(3)
    params["enc"]["W"] = params["enc"]["W"] * 20.0   # codes other than 0
    x = C.digits()[0][:16]
    pipe = C.build_codec(0.3, params, backend)
    (record,) = pipe.fit(x, x, steps=1, lr=0.0, optimizer=torch.optim.SGD, progress=False)
    value, pullback = adjoin.vjp(C.rd_loss, params, x, 0.3, backend=backend)
    assert record["loss"] == pytest.approx(np.mean(value), rel=1e-12)
    want = pullback(np.full(len(x), 1.0 / len(x)))[0]
    g = pipe.gradients
    got = {"enc": g["encode"], "dec": g["decode"], "prior": g["rd"]}
    for part in want:
        for key in want[part]:
            np.testing.assert_allclose(got[part][key], want[part][key], rtol=1e-10, atol=1e-14)
