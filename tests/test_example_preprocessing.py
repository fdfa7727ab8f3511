"""examples/pipelines/learnable_preprocessing.py: the step functions' values and gradients on
every backend against CPython and central differences, and the quick run's comparison (the
learned preprocessing beats the hand-picked one on held-out data)."""
import importlib.util
import os

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")

PATH = os.path.join(os.path.dirname(__file__), "..", "examples", "pipelines",
                    "learnable_preprocessing.py")
spec = importlib.util.spec_from_file_location("learnable_preprocessing", PATH)
lp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lp)

BACKENDS = ["python", "llvm", "torch"]
RNG = np.random.default_rng(7)
N = 2
X = RNG.random((N, 64))
Y = np.eye(10)[RNG.integers(0, 10, N)]
CASES = {
    "blur": (lp.blur, {"kernel": RNG.standard_normal((3, 3))}, (X,)),
    "soft_threshold": (lp.soft_threshold, {"t": 0.4, "log_temp": -1.5}, (X,)),
    "cross_entropy": (lp.cross_entropy, {"W": 0.3 * RNG.standard_normal((64, 10)),
                                         "b": 0.3 * RNG.standard_normal(10)}, (X, Y)),
}


def reference_gradients(fn, params, inputs, cotangent):
    """Central differences of <cotangent, fn> for every parameter entry and the first input."""
    def dot(v):
        return float(np.sum(v * cotangent))
    grads = {}
    for key in params:
        def with_entry(v, key=key):
            return fn({**params, key: v}, *inputs)
        grads[key] = numeric_grad(with_entry, [params[key]], [0], cotangent=dot)[0]
    first = numeric_grad(lambda x: fn(params, x, *inputs[1:]), [inputs[0]], [0],
                         cotangent=dot)[0]
    return grads, first


@pytest.mark.parametrize("name", sorted(CASES))
def test_step_values_and_gradients(name):
    fn, params, inputs = CASES[name]
    expected = fn(params, *inputs)
    cotangent = RNG.standard_normal(expected.shape)
    fd_params, fd_input = reference_gradients(fn, params, inputs, cotangent)
    for backend in BACKENDS:
        value, pullback = adjoin.vjp(fn, params, *inputs, backend=backend)
        value = np.asarray(value)
        assert value.dtype == expected.dtype and value.shape == expected.shape
        np.testing.assert_allclose(value, expected, rtol=1e-12, atol=1e-14)
        grads = pullback(cotangent)
        for key in params:
            np.testing.assert_allclose(np.asarray(grads[0][key], dtype=float), fd_params[key],
                                       rtol=1e-6, atol=1e-7, err_msg=f"{backend} d/d{key}")
        np.testing.assert_allclose(np.asarray(grads[1], dtype=float), fd_input,
                                   rtol=1e-6, atol=1e-7, err_msg=f"{backend} d/dinput")


def test_blur_matches_torch_conv2d():
    kernel = CASES["blur"][1]["kernel"]
    images = torch.tensor(X).reshape(N, 1, 8, 8)
    expected = torch.nn.functional.conv2d(images, torch.tensor(kernel).reshape(1, 1, 3, 3),
                                          padding=1).reshape(N, 64).numpy()
    np.testing.assert_allclose(lp.blur({"kernel": kernel}, X), expected, rtol=1e-12)


def test_quick_run_learned_beats_fixed():
    result = lp.main(quick=True)
    fixed, learned = result["fixed"]["after"], result["learned"]["after"]
    assert learned["test_loss"] < 0.6 * result["learned"]["before"]["test_loss"]
    assert learned["test_loss"] < fixed["test_loss"] - 0.05
    assert learned["test_accuracy"] > fixed["test_accuracy"]
    assert not np.allclose(result["kernel"], lp.hand_picked()[0]["kernel"])


def test_pipeline_steps_agree_across_backends():
    """Two end-to-end training steps on a few rows give the same parameters everywhere."""
    X_train, Y_train = lp.noisy_digits()[:2]
    fitted = {}
    for backend in BACKENDS:
        pipe = lp.make_pipeline(backend)
        losses = [h["loss"] for h in pipe.fit(X_train[:8], Y_train[:8], steps=2, batch_size=4,
                                              lr=0.05, progress=False)]
        fitted[backend] = (losses, pipe["blur"].parameters["kernel"],
                           pipe["threshold"].parameters, pipe["clf"].parameters["W"])
    reference = fitted["llvm"]
    assert not np.allclose(reference[1], lp.hand_picked()[0]["kernel"])
    for backend in ("python", "torch"):
        losses, kernel, threshold, W = fitted[backend]
        np.testing.assert_allclose(losses, reference[0], rtol=1e-12)
        np.testing.assert_allclose(kernel, reference[1], rtol=1e-10, atol=1e-14)
        assert threshold == pytest.approx(reference[2], rel=1e-10)
        np.testing.assert_allclose(W, reference[3], rtol=1e-10, atol=1e-14)
