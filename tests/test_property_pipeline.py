"""Random pipelines: chains and DAGs of steps with every kind of parameter structure (dicts,
dataclasses, tuples inside dicts, scalars, no parameters at all), torch modules and adjoin
steps on every backend (so values cross between NumPy and tensors both ways), frozen steps,
several inputs, stochastic steps (probabilistic PCA) estimated with L draws. The end-to-end gradient of every trainable leaf checked must
equal central differences of the pipeline's own objective."""
import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings, strategies as st

torch = pytest.importorskip("torch")
from adjoin import pipeline as pl  # noqa: E402

ROWS = 6


@dataclasses.dataclass
class ScaleShift:
    s: float
    t: np.ndarray


def affine(p, x):
    return x @ p["W"] + p["b"]


def scale_tanh(p, x):
    return np.tanh(x * p.s + p.t)


def no_params(p, x):
    return np.sin(x) * 0.5 + x


def nested(p, x):
    return x * p["a"][0] + p["a"][1]


def mix(p, x, z):
    return x @ p["U"] + z @ p["V"]


def head(p, z, v):
    return z @ p["w"] + v @ p["u"] + p["b"]


def gauss_ll(p, z, v, y):
    r = y - head(p, z, v)
    return -0.5 * r * r * np.exp(-p["log_s2"]) - 0.5 * p["log_s2"]


def _step(draw, rng, width, other):
    """(primitive, output width, number of inputs)."""
    kinds = ["affine", "affine", "scale_tanh", "no_params", "nested", "mix", "mix", "torch"]
    kind = draw(st.sampled_from(kinds + (["ppca", "ppca"] if width >= 2 else [])))
    out = draw(st.integers(1, 3))
    backend = draw(st.sampled_from(["python", "python", "llvm", "torch"]))
    if kind == "affine":
        return pl.Function(affine, {"W": rng.normal(size=(width, out)) * 0.5,
                                    "b": rng.normal(size=out)}, backend=backend), out, 1
    if kind == "scale_tanh":
        return pl.Function(scale_tanh, ScaleShift(float(rng.normal()), rng.normal(size=width)),
                           backend=backend), width, 1
    if kind == "no_params":
        return pl.Function(no_params, {}, backend=backend), width, 1
    if kind == "nested":
        return pl.Function(nested, {"a": (float(rng.normal()), rng.normal(size=width))},
                           backend=backend), width, 1
    if kind == "mix":
        return pl.Function(mix, {"U": rng.normal(size=(width, out)) * 0.5,
                                 "V": rng.normal(size=(other, out)) * 0.5},
                           backend=backend), out, 2
    if kind == "ppca":  # stochastic: draws latents, so later steps see L rows per example
        k = draw(st.integers(1, width - 1))
        start = {"W": rng.normal(size=(width, k)), "mu": rng.normal(size=width),
                 "log_s2": float(rng.normal()) * 0.3}
        return pl.ProbabilisticPCA(k, parameters=start, backend=backend), k, 1
    torch.manual_seed(int(rng.integers(1000)))
    module = torch.nn.Sequential(torch.nn.Linear(width, out, dtype=torch.float64),
                                 torch.nn.Tanh())
    return pl.TorchModule(module), out, 1


@st.composite
def pipelines(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    widths = {"input": 3}
    steps = []
    for i in range(draw(st.integers(1, 5))):
        names = list(widths)
        first = draw(st.sampled_from(names))
        second = draw(st.sampled_from(names[1:] or names))  # read by two-input steps
        prim, out, arity = _step(draw, rng, widths[first], widths[second])
        sources = (first, second)[:arity]
        prim.frozen = draw(st.booleans()) and i > 0
        steps.append((f"s{i}", prim, sources))
        widths[f"s{i}"] = out
    last, other = draw(st.sampled_from(list(widths))), draw(st.sampled_from(list(widths)))
    steps.append(("head", pl.Function(head, {"w": rng.normal(size=widths[last]),
                                            "u": rng.normal(size=widths[other]) * 0.3,
                                            "b": 0.2, "log_s2": 0.1},
                                      log_likelihood=gauss_ll, backend="python"),
                  (last, other)))
    x = rng.normal(size=(ROWS, 3))
    y = rng.normal(size=ROWS)
    samples = draw(st.integers(1, 3))
    return pl.Pipeline(steps), x, y, samples


def _reseed(pipe):
    """The same draws for every evaluation, so the estimate is a function of the parameters."""
    for i, step in enumerate(pipe.steps):
        if step.primitive.stochastic:
            step.primitive.rng = np.random.default_rng(i)


def _loss(pipe, x, y, samples):
    _reseed(pipe)
    return -pipe.log_likelihood(x, y, samples=samples).sum() / len(y)


def _leaves(prim):
    if isinstance(prim, pl.TorchModule):
        return [(f"{k}", p) for k, p in prim.module.named_parameters()]
    return list(zip(prim.params.paths, prim.params.tensors)) if prim.params else []


@settings(max_examples=int(__import__("os").environ.get("PIPELINE_EXAMPLES", 25)), deadline=None, suppress_health_check=list(HealthCheck))
@given(case=pipelines(), data=st.data())
def test_random_pipelines_backprop_the_gradient_of_their_objective(case, data):
    pipe, x, y, samples = case
    note(f"{pipe!r}, samples={samples}")
    pipe.check(x, y)
    _reseed(pipe)
    loss = pipe._objective(x, y, samples, len(y))
    assert loss == pytest.approx(_loss(pipe, x, y, samples), rel=1e-12, abs=1e-12)
    for step in pipe.steps:
        prim = step.primitive
        for path, tensor in _leaves(prim):
            if prim.frozen:
                assert tensor.grad is None or not tensor.grad.any(), f"{step.name} {path}"
                continue
            flat = tensor.view(-1) if tensor.dim() else tensor.view(1)
            k = data.draw(st.integers(0, flat.numel() - 1), label=f"{step.name} {path}")
            grad = 0.0 if tensor.grad is None else float(tensor.grad.reshape(-1)[k])
            h = 1e-6
            with torch.no_grad():
                flat[k] += h
                up = _loss(pipe, x, y, samples)
                flat[k] -= 2 * h
                down = _loss(pipe, x, y, samples)
                flat[k] += h
            assert grad == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-7), \
                f"{step.name} {path}[{k}]"
