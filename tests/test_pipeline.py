"""adjoin.pipeline: end-to-end gradients against finite differences, adapters against the
libraries they wrap, training, freezing, stochastic steps, and the errors raised before
training starts."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import Ridge  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import adjoin  # noqa: E402
from adjoin import pipeline as pl  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 5))
Y = X @ RNG.normal(size=5) + 0.1 * RNG.normal(size=24)


def head(p, z):
    return z @ p["w"] + p["b"]


def gauss_ll(p, z, y):
    r = y - head(p, z)
    return -0.5 * r * r * np.exp(-p["log_s2"]) - 0.5 * p["log_s2"]


def ridge_prior(p):
    return -0.5 * np.sum(p["w"] ** 2)


def mix(p, a, b):
    return np.tanh(a * p["s"]) + b @ p["m"]


def mix_loss(p, a, b, y):
    return np.sum((mix(p, a, b) - y) ** 2, axis=1)


def net(seed=0, width=4, inputs=5):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(inputs, width, dtype=torch.float64),
                               torch.nn.Tanh())


def three_frameworks(backend, k=3):
    module = net()
    feats = module(torch.as_tensor(X)).detach().numpy()
    return pl.Pipeline([
        ("net", pl.TorchModule(module)),
        ("pca", pl.SklearnTransform(PCA(k).fit(feats), trainable=True, backend=backend)),
        ("head", pl.Function(head, {"w": np.linspace(0.5, 1.5, k), "b": 0.1, "log_s2": 0.2},
                             log_likelihood=gauss_ll, log_prior=ridge_prior, backend=backend)),
    ])


def loss_of(pipe, x=X, y=Y, samples=1, reseed=None):
    if reseed is not None:
        reseed()
    total = -pipe.log_likelihood(x, y, samples=samples).sum() / len(y)
    return total - sum(s.primitive.log_prior() for s in pipe.steps) / len(y)


def fd(pipe, tensor, index, **kw):
    h = 1e-6
    with torch.no_grad():
        tensor[index] += h
        up = loss_of(pipe, **kw)
        tensor[index] -= 2 * h
        down = loss_of(pipe, **kw)
        tensor[index] += h
    return (up - down) / (2 * h)


def leaf(step, key):
    return step.params.tensors[step.params.paths.index(f"params[{key!r}]")]


def one_step_gradients(pipe, x=X, y=Y, samples=1):
    pipe.zero_grad()
    loss = pipe._objective(x, y, samples, len(y)) + pipe._local_terms({}, len(y))
    return loss


@pytest.mark.parametrize("backend", ["python", "llvm", "torch"])
def test_gradients_through_torch_sklearn_and_adjoin_match_finite_differences(backend):
    pipe = three_frameworks(backend)
    loss = one_step_gradients(pipe)
    assert loss == pytest.approx(loss_of(pipe), rel=1e-12)
    pca_W = leaf(pipe["pca"], "W")
    weight = dict(pipe["net"].module.named_parameters())["0.weight"]
    w = leaf(pipe["head"], "w")
    assert pipe["pca"].gradients["W"][1, 2] == pytest.approx(fd(pipe, pca_W, (1, 2)), abs=1e-7)
    assert pipe["net"].gradients["0.weight"][2, 3] == pytest.approx(fd(pipe, weight, (2, 3)),
                                                                    abs=1e-7)
    assert pipe["head"].gradients["w"][0] == pytest.approx(fd(pipe, w, 0), abs=1e-7)
    assert isinstance(pipe["head"].gradients["b"], float)


def test_training_lowers_the_loss_and_frozen_steps_do_not_move():
    pipe = three_frameworks("python").freeze("net")
    before = {k: v.copy() for k, v in pipe["net"].parameters.items()}
    first = loss_of(pipe)
    history = pipe.fit(X, Y, steps=40, lr=0.05, progress=False,
                       callback=lambda p, i: {"train": float(loss_of(p))}, callback_every=10)
    assert [h["step"] for h in history] == list(range(40)) and len(pipe.history) == 40
    assert history[-1]["loss"] < first - 0.5
    assert [h["step"] for h in history if "train" in h] == [0, 10, 20, 30, 39]
    for k, v in pipe["net"].parameters.items():
        np.testing.assert_array_equal(v, before[k])
    again = pipe.fit(X, Y, steps=2, progress=False, optimizer=torch.optim.SGD, lr=1e-3)
    assert [h["step"] for h in again] == [40, 41]


def test_a_dag_step_takes_two_inputs_and_both_branches_get_gradients():
    mixer = pl.Function(mix, {"s": 0.7, "m": np.ones((3, 2))}, loss=mix_loss, backend="python")
    pipe = pl.Pipeline([
        ("a", pl.Function(head, {"w": np.ones((5, 2)) * 0.3, "b": np.zeros(2)},
                          backend="python")),
        ("b", pl.TorchModule(net(1, 3)), "input"),
        ("mix", mixer, ("a", "b")),
    ])
    y = RNG.normal(size=(24, 2))
    one_step_gradients(pipe, y=y)
    a_W = leaf(pipe["a"], "w")
    b_w = dict(pipe["b"].module.named_parameters())["0.bias"]
    assert pipe["a"].gradients["w"][4, 1] == pytest.approx(fd(pipe, a_W, (4, 1), y=y), abs=1e-7)
    assert pipe["b"].gradients["0.bias"][2] == pytest.approx(fd(pipe, b_w, 2, y=y), abs=1e-7)
    np.testing.assert_allclose(pipe.produce(X), mix(mixer.parameters, head(
        pipe["a"].parameters, X), pipe["b"].module(torch.as_tensor(X)).detach().numpy()))


def test_sklearn_transforms_equal_the_estimators_and_pass_input_gradients():
    for est in (PCA(3, whiten=True).fit(X), StandardScaler().fit(X), Ridge().fit(X, Y),
                Ridge().fit(X, np.c_[Y, -Y])):
        step = pl.SklearnTransform(est, backend="python")
        out = step.produce(X)
        ref = est.transform(X) if hasattr(est, "transform") else est.predict(X)
        np.testing.assert_allclose(out, ref, atol=1e-12)
        g = RNG.normal(size=out.shape)
        x_bar = step.backprop(g)
        e = np.zeros_like(X)
        e[3, 1] = 1e-6
        fwd = lambda x: np.sum(g * (est.transform(x) if hasattr(est, "transform")  # noqa: E731
                                    else est.predict(x)))
        assert x_bar[3, 1] == pytest.approx((fwd(X + e) - fwd(X - e)) / 2e-6, abs=1e-7)
        assert step.frozen and all(t.grad is None for t in step.tensors())


def test_probabilistic_pca_fits_like_pca_and_scores_its_samples():
    from scipy.stats import multivariate_normal
    x = RNG.normal(size=(200, 4)) @ RNG.normal(size=(4, 4)) + 1.0
    ppca = pl.ProbabilisticPCA(2, backend="python")
    ppca.set_training_data(x)
    ppca.fit()
    p = ppca.parameters
    ref = PCA(2).fit(x)
    mle = 199 / 200  # the maximum-likelihood covariance divides by N; PCA's by N - 1
    s2 = np.exp(p["log_s2"])
    assert s2 == pytest.approx(ref.noise_variance_ * mle, rel=1e-9)
    C = p["W"] @ p["W"].T + s2 * np.eye(4)
    np.testing.assert_allclose(C, ref.get_covariance() * mle, atol=1e-9)
    np.testing.assert_allclose(ppca.log_likelihood(x[:5]),
                               multivariate_normal(p["mu"], C).logpdf(x[:5]), rtol=1e-10)
    z = ppca.sample(x[:3], n=4000)
    assert z.shape == (12000, 2)
    draws = z.reshape(4000, 3, 2)
    M = p["W"].T @ p["W"] + s2 * np.eye(2)
    np.testing.assert_allclose(draws.mean(axis=0), ppca.produce(x[:3]), atol=0.05)
    np.testing.assert_allclose(np.cov(draws[:, 0].T), s2 * np.linalg.inv(M), atol=0.05)


def test_samples_through_a_stochastic_step_give_the_gradient_of_the_estimate():
    x = RNG.normal(size=(24, 5))
    ppca = pl.ProbabilisticPCA(2, backend="python", seed=3)
    ppca.set_training_data(x)
    ppca.fit()
    pipe = pl.Pipeline([("ppca", ppca),
                        ("head", pl.Function(head, {"w": np.ones(2), "b": 0.0, "log_s2": 0.0},
                                             log_likelihood=gauss_ll, backend="python"))])

    def reseed():
        ppca.rng = np.random.default_rng(3)
    reseed()
    loss = one_step_gradients(pipe, x=x, samples=5)
    assert loss == pytest.approx(loss_of(pipe, x=x, samples=5, reseed=reseed), rel=1e-12)
    W = leaf(ppca, "W")
    w = leaf(pipe["head"], "w")
    for tensor, index, grad in ((W, (1, 0), ppca.gradients["W"][1, 0]),
                                (w, 1, pipe["head"].gradients["w"][1])):
        assert grad == pytest.approx(fd(pipe, tensor, index, x=x, samples=5, reseed=reseed),
                                     abs=1e-7)
    # more draws give a tighter bound on the likelihood (the estimate is consistent)
    one = np.mean([loss_of(pipe, x=x, samples=1) for _ in range(20)])
    many = np.mean([loss_of(pipe, x=x, samples=50) for _ in range(5)])
    assert many < one


def test_pretrain_fits_steps_on_their_local_data():
    module = net(2)
    step = pl.TorchModule(module, loss=lambda out, y: ((out - y) ** 2).sum(1))
    target = np.tanh(X[:, :4])
    step.set_training_data(X, target)
    scaler = pl.SklearnTransform(StandardScaler(), backend="python")
    scaler.set_training_data(np.tanh(X[:, :4]))
    pipe = pl.Pipeline([("net", step), ("scale", scaler),
                        ("head", pl.Function(head, {"w": np.ones(4), "b": 0.0, "log_s2": 0.0},
                                             log_likelihood=gauss_ll, backend="python"))])
    before = float(((module(torch.as_tensor(X)) - torch.as_tensor(target)) ** 2).sum().detach())
    pipe.pretrain(steps=100, lr=0.05)
    after = float(((module(torch.as_tensor(X)) - torch.as_tensor(target)) ** 2).sum().detach())
    assert after < 0.5 * before
    np.testing.assert_allclose(scaler.produce(np.tanh(X[:, :4])).std(axis=0), 1.0, rtol=1e-9)


# -- errors before training ------------------------------------------------------------------


def test_a_shape_mismatch_names_both_steps_before_training():
    module = net(width=6)
    pca = PCA(2).fit(RNG.normal(size=(10, 4)))
    pipe = pl.Pipeline([("net", pl.TorchModule(module)),
                        ("pca", pl.SklearnTransform(pca, backend="python")),
                        ("head", pl.Function(head, {"w": np.ones(2), "b": 0.0, "log_s2": 0.0},
                                             log_likelihood=gauss_ll, backend="python"))])
    before = module[0].weight.detach().clone()
    with pytest.raises(adjoin.PipelineError, match=r"'pca' \(SklearnTransform\) expects rows "
                       r"of shape \(4,\), but 'net' gives rows of shape \(6,\)"):
        pipe.fit(X, Y, steps=5, progress=False)
    assert torch.equal(module[0].weight, before)


def test_a_failing_step_is_named_with_its_input_shapes():
    pipe = pl.Pipeline([("head", pl.Function(head, {"w": np.ones(3), "b": 0.0, "log_s2": 0.0},
                                             log_likelihood=gauss_ll, backend="python"))])
    with pytest.raises(adjoin.PipelineError, match=r"step 'head' \(Function\) failed on "
                       r"inputs \(input: \(4, 5\)\): ValueError"):
        pipe.fit(X, Y, steps=1, progress=False)


def test_backprop_through_a_step_that_has_none_is_refused_before_training():
    class Lookup(pl.Primitive):
        differentiable = False

        def produce(self, x):
            return np.round(x)

    pipe = pl.Pipeline([("net", pl.TorchModule(net())), ("round", Lookup()),
                        ("head", pl.Function(head, {"w": np.ones(4), "b": 0.0, "log_s2": 0.0},
                                             log_likelihood=gauss_ll, backend="python"))])
    with pytest.raises(adjoin.PipelineError, match="'round' .* cannot backprop to its inputs, "
                       "but 'net' before it is trainable: freeze 'net'"):
        pipe.fit(X, Y, steps=1, progress=False)
    pipe.freeze("net")
    assert len(pipe.fit(X, Y, steps=2, progress=False)) == 2


def test_wrong_parameter_structures_are_named():
    step = pl.Function(head, {"w": np.ones(3), "b": 0.0, "log_s2": 0.0}, backend="python")
    with pytest.raises(adjoin.PipelineError, match="does not match"):
        step.parameters = {"w": np.ones(3), "b": 0.0}
    with pytest.raises(adjoin.PipelineError, match=r"params\['w'\] has shape \(4,\), "
                       r"expected \(3,\)"):
        step.parameters = {"w": np.ones(4), "b": 0.0, "log_s2": 0.0}
    with pytest.raises(adjoin.PipelineError, match=r"params\['w'\] is a str"):
        pl.Function(head, {"w": "ones", "b": 0.0}, backend="python")
    missing = pl.Pipeline([("head", pl.Function(head, {"W": np.ones(5), "b": 0.0,
                                                       "log_s2": 0.0},
                                                log_likelihood=gauss_ll, backend="python"))])
    with pytest.raises(adjoin.PipelineError, match="step 'head'.*TypingError.*test_pipeline.py"
                       ".*the dict has no key 'w'"):
        missing.fit(X, Y, steps=1, progress=False)


def test_other_bad_pipelines_are_refused_with_their_reason():
    with pytest.raises(adjoin.PipelineError, match="not a primitive.*pipeline.Function"):
        pl.Pipeline([("f", head)])
    with pytest.raises(adjoin.PipelineError, match="used twice"):
        pl.Pipeline([("a", pl.TorchModule(net())), ("a", pl.TorchModule(net()))])
    with pytest.raises(adjoin.PipelineError, match="not affine"):
        from sklearn.cluster import KMeans
        pl.SklearnTransform(KMeans(2))
    with pytest.raises(adjoin.PipelineError, match="not fitted"):
        pl.SklearnTransform(PCA(2)).produce(X)
    no_score = pl.Pipeline([("net", pl.TorchModule(net()))])
    with pytest.raises(adjoin.PipelineError, match="last step 'net' has no log-likelihood"):
        no_score.fit(X, Y, steps=1, progress=False)
    reads = pl.Pipeline([("a", pl.TorchModule(net()), "nowhere")])
    with pytest.raises(adjoin.PipelineError, match="reads 'nowhere'"):
        reads.produce(X)


def test_the_first_tutorial_program_of_the_docs_runs_and_fits(tmp_path):
    import os
    import re
    import runpy
    docs = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs",
                        "pipelines.md")
    program = re.findall(r"```python\n(.*?)```", open(docs).read(), re.S)[0]
    script = tmp_path / "first_step.py"
    script.write_text(program.replace("steps=300", "steps=300, progress=False"))
    names = runpy.run_path(str(script))
    np.testing.assert_allclose(names["step"].parameters["w"], [1.0, -2.0, 0.5], atol=0.05)
    assert names["history"][-1]["loss"] < names["history"][0]["loss"] - 1.0


def test_steps_are_named_after_their_entry_unless_given_a_name():
    unnamed = pl.Function(head, {"w": np.ones(3), "b": 0.0}, backend="python")
    named = pl.Function(head, {"w": np.ones(3), "b": 0.0}, backend="python", name="mine")
    pl.Pipeline([("first", unnamed), ("second", named)])
    assert (unnamed.name, named.name) == ("first", "mine")
    with pytest.raises(adjoin.PipelineError, match=r"step 'first': parameter params\['w'\]"):
        unnamed.parameters = {"w": np.ones(4), "b": 0.0}
