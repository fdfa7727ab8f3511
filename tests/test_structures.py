"""Structured arguments and results: lists, dicts with string keys, namedtuples and
dataclasses (nested, of floats, ints and arrays). Primal against CPython, gradients in the
argument's structure against finite differences and torch, vjp/jvp/hvp, and the errors."""
import collections
import dataclasses

import numpy as np
import optree
import pytest

import adjoin

BACKENDS = ["python", "llvm", "torch"]
Layer = collections.namedtuple("Layer", "W b")


@dataclasses.dataclass
class Params:
    layers: list
    scale: float
    steps: int = 2


def mlp_loss(params, x, y):
    h = x
    for layer in params["layers"]:
        h = np.tanh(h @ layer.W + layer.b)
    logits = h * params["head"]["w"] + params["head"]["c"][0]
    p = np.exp(logits - np.max(logits, axis=1, keepdims=True))
    p = p / np.sum(p, axis=1, keepdims=True)
    return -np.mean(np.sum(y * np.log(p), axis=1))


def dataclass_loss(p: Params, x):
    total = 0.0
    for k in range(p.steps):
        for w in p.layers:
            total = total + np.sum(np.sin(w * x)) * p.scale
    return total


def builds(p, x):
    out = {"sum": p["a"] * x, "both": [p["a"], x * 2.0], **p}
    return out, Layer(W=x * x, b=p["a"])


RNG = np.random.default_rng(5)
X = RNG.standard_normal((4, 3))
Y = np.eye(3)[[0, 2, 1, 1]]
PARAMS = {"layers": [Layer(RNG.standard_normal((3, 5)) * 0.5, RNG.standard_normal(5)),
                     Layer(RNG.standard_normal((5, 3)) * 0.5, np.zeros(3))],
          "head": {"w": 1.5, "c": (0.25, 2)}}


def numeric_tree_grad(fn, tree, *rest, eps=1e-6):
    leaves, spec = optree.tree_flatten(tree, namespace="adjoin")
    out = []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, int):
            out.append(None)
            continue
        arr = np.array(leaf, dtype=float)
        g = np.zeros_like(arr)
        for k in np.ndindex(arr.shape):
            hi, lo = arr.copy(), arr.copy()
            hi[k] += eps
            lo[k] -= eps
            up = [hi if j == i else v for j, v in enumerate(leaves)]
            dn = [lo if j == i else v for j, v in enumerate(leaves)]
            if not isinstance(leaf, np.ndarray):
                up[i], dn[i] = float(hi), float(lo)
            g[k] = (fn(spec.unflatten(up), *rest) - fn(spec.unflatten(dn), *rest)) / (2 * eps)
        out.append(g)
    return out


def assert_tree_close(got, want_leaves, spec_of):
    leaves, spec = optree.tree_flatten(got, namespace="adjoin", none_is_leaf=True)
    assert spec == optree.tree_structure(spec_of, namespace="adjoin", none_is_leaf=True)
    for g, w in zip(leaves, want_leaves):
        if w is None:
            assert g is None or g == 0
        else:
            np.testing.assert_allclose(np.asarray(g, dtype=float), w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mlp_with_params_in_a_dict(backend):
    f = adjoin.differentiable(mlp_loss, backend=backend)
    assert f(PARAMS, X, Y) == pytest.approx(mlp_loss(PARAMS, X, Y), rel=1e-12)
    g = adjoin.grad(f)(PARAMS, X, Y)
    assert isinstance(g, dict) and isinstance(g["layers"], list)
    assert isinstance(g["layers"][0], Layer) and isinstance(g["head"]["c"], tuple)
    want = numeric_tree_grad(mlp_loss, PARAMS, X, Y)
    assert_tree_close(g, want, PARAMS)


def test_mlp_gradient_against_torch():
    torch = pytest.importorskip("torch")
    tp = optree.tree_map(lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)
                         if isinstance(v, np.ndarray) else v, PARAMS, namespace="adjoin")
    h = torch.tensor(X)
    for layer in tp["layers"]:
        h = torch.tanh(h @ layer.W + layer.b)
    logits = h * 1.5 + 0.25
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(Y.argmax(1)))
    loss.backward()
    g = adjoin.grad(mlp_loss)(PARAMS, X, Y)
    assert loss.item() == pytest.approx(mlp_loss(PARAMS, X, Y), rel=1e-12)
    for ours, theirs in zip(g["layers"], tp["layers"]):
        np.testing.assert_allclose(ours.W, theirs.W.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.b, theirs.b.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dataclass_argument(backend):
    p = Params([np.array([0.5, -1.0]), np.array([2.0, 0.3])], 1.5, 3)
    x = np.array([0.7, 0.2])
    f = adjoin.differentiable(dataclass_loss, backend=backend)
    assert f(p, x) == pytest.approx(dataclass_loss(p, x), rel=1e-12)
    g = adjoin.grad(f, wrt="p")(p, x)
    assert isinstance(g, Params) and not g.steps  # an int part has no derivative
    want = numeric_tree_grad(dataclass_loss, p, x)
    assert_tree_close(g, want, p)


@pytest.mark.parametrize("backend", BACKENDS)
def test_structured_results_vjp_and_jvp(backend):
    p = {"a": np.array([1.0, -2.0]), "k": 0.5}
    x = np.array([3.0, 4.0])
    f = adjoin.differentiable(builds, backend=backend)
    out, layer = f(p, x)
    ref, ref_layer = builds(p, x)
    assert list(out) == list(ref)  # the keys in the order the literal gives them
    assert optree.tree_structure((out, layer)) == optree.tree_structure((ref, ref_layer))
    for a, b in zip(optree.tree_leaves((out, layer)), optree.tree_leaves((ref, ref_layer))):
        np.testing.assert_allclose(a, b)
    value, pullback = adjoin.vjp(f, p, x)
    ct = optree.tree_map(lambda v: np.ones_like(v) if isinstance(v, np.ndarray) else 1.0, value)
    gp, gx = pullback(ct)
    # out = {sum: a*x, both: [a, 2x], a: a, k: k}, Layer(x*x, a)
    np.testing.assert_allclose(gp["a"], x + 1 + 1 + 1)
    assert gp["k"] == pytest.approx(1.0)
    np.testing.assert_allclose(gx, p["a"] + 2 + 2 * x)
    _, tangent = adjoin.jvp(f, (p, x), ({"a": np.ones(2), "k": 1.0}, np.zeros(2)))
    np.testing.assert_allclose(tangent[0]["sum"], x)
    np.testing.assert_allclose(tangent[1].b, np.ones(2))
    assert tangent[0]["k"] == pytest.approx(1.0)


def test_hvp_in_the_argument_structure():
    def f(p, x):
        return np.sum(p["a"] ** 2 * x) + p["b"] ** 3
    p, x = {"a": np.array([1.0, 2.0]), "b": 0.5}, np.array([1.0, 3.0])
    got = adjoin.hvp(f)(p, x, {"a": np.ones(2), "b": 1.0})
    np.testing.assert_allclose(got["a"], 2 * x)
    assert got["b"] == pytest.approx(6 * 0.5)


def curved(p, x):
    return np.sum(p["a"] ** 2 * x) + p["b"] ** 3 * np.sum(p["a"]) + p["n"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_nests_in_the_structure_twice(backend):
    p, x = {"a": np.array([1.0, 2.0]), "b": 0.5, "n": 3}, np.array([1.0, 3.0])
    H = adjoin.hessian(curved, backend=backend)(p, x)
    np.testing.assert_allclose(H["a"]["a"], np.diag(2 * x))
    np.testing.assert_allclose(H["a"]["b"], 3 * p["b"] ** 2 * np.ones(2))
    np.testing.assert_allclose(H["b"]["a"], H["a"]["b"])
    assert H["b"]["b"] == pytest.approx(6 * p["b"] * np.sum(p["a"]))
    assert H["n"]["a"] is None and H["a"]["n"] is None  # an int has no derivative
    cross = adjoin.hessian(curved, wrt=(0, 1), backend=backend)(p, x)[0][1]
    np.testing.assert_allclose(cross["a"], np.diag(2 * p["a"]))
    np.testing.assert_allclose(cross["b"], np.zeros(2))


def test_jacobian_of_a_structure_is_a_clear_error():
    def f(p):
        return p["a"] ** 2
    with pytest.raises(TypeError, match="jacobian with respect to 'p' .a dict. is not supported"):
        adjoin.jacobian(f)({"a": 1.0})


def missing_key(p):
    return p["b"]


def bad_key(p, k):
    return p[k]


def writes(p):
    p["a"] = 1.0
    return p["a"]


def unknown_field(q):
    return q.c


@pytest.mark.parametrize("fn, args, match", [
    (missing_key, ({"a": 1.0},), "the dict has no key 'b' .its keys: 'a'."),
    (bad_key, ({"a": 1.0}, 0), "constant string key"),
    (writes, ({"a": 2.0},), "writing into a dict is not supported"),
    (unknown_field, (Layer(1.0, 2.0),), "Layer namedtuple has no field 'c'"),
])
def test_errors_point_at_the_line(fn, args, match):
    with pytest.raises(adjoin.CompileError, match=match) as e:
        adjoin.differentiable(fn)(*args)
    assert e.value.loc.file == __file__


def test_bad_structures_are_type_errors():
    with pytest.raises(TypeError, match="keys are not all strings"):
        adjoin.differentiable(missing_key)({1: 2.0})
    with pytest.raises(TypeError, match=r"argument 'p' of missing_key\(\)\['b'\] has "
                                        "unsupported type str"):
        adjoin.differentiable(missing_key)({"b": "text"})
    with pytest.raises(TypeError, match="the cotangent must have the structure"):
        _, pb = adjoin.vjp(lambda p: {"y": p * 2.0}, 1.0)
        pb([1.0])


def test_structures_of_other_keys_get_their_own_specialization():
    def total(p):
        return np.sum(p[0]) + np.sum(p[1])
    f = adjoin.differentiable(total)
    assert f([np.ones(2), np.ones(3)]) == 5.0
    assert f((np.ones(2), np.ones(3))) == 5.0
    assert f(Layer(np.ones(2), np.ones(1))) == 3.0


def layered(ws, x):
    s = 0.0
    for i in range(len(ws)):
        s = s + np.sum(ws[i] * x) * ws[-1 - i][0]
    return s


def pick(items, k):
    return items[k]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_list_indexed_at_run_time(backend):
    ws = [np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([0.5, 0.5])]
    x = np.array([0.3, 0.7])
    f = adjoin.differentiable(layered, backend=backend)
    assert f(ws, x) == pytest.approx(layered(ws, x), rel=1e-12)
    g = adjoin.grad(f)(ws, x)
    want = numeric_tree_grad(layered, ws, x)
    assert_tree_close(g, want, ws)
    p = adjoin.differentiable(pick, backend=backend)
    assert p([1.0, 2.0, 3.0], -1) == 3.0 and p((4.0, 5.0), 0) == 4.0
    with pytest.raises(IndexError):
        p([1.0, 2.0, 3.0], 3)
    with pytest.raises(adjoin.CompileError, match="items differ in type"):
        p([1.0, np.ones(2)], 1)
