"""Derivatives of elementwise ops whose operands are broadcast (scalars, lower rank, size 1).

Every binary elementwise op is tried with each operand in each broadcast position
(scalar into array, (n,) into (m, n), (1, n) against (m, 1)), on both backends:
reverse mode against central differences (a scalar operand's adjoint sums over
every element it was broadcast to), forward mode with a tangent given only for
the broadcast operand (the tangent has the result's shape), and Hessians
(forward over reverse through the `sum_to` of broadcast adjoints) against
torch autograd.
"""
import importlib.util
import math

import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad


# p and q are positive, so that every op is smooth at the drawn points
OPS = {
    "add": "{p} + {q}", "sub": "{p} - {q}", "mul": "{p} * {q}", "div": "{p} / {q}",
    "pow": "{p} ** {q}", "mod": "({p} * 2.7) % {q}", "floordiv": "({p} * 2.7) // {q} + {p}",
    "maximum": "np.maximum({p}, {q})", "minimum": "np.minimum({p}, {q})",
    "where": "np.where({p} > {q}, {p} * {q}, {q})", "clip": "np.clip({p}, {q}, 1.3)",
    "atan2": "np.arctan2({p}, {q})", "hypot": "np.hypot({p}, {q})",
    "copysign": "np.copysign({p}, {q} - 1.0) * {q}", "power": "np.power({p}, {q})",
}
# llvm compiles slowly: one op of each rule family there, every op on the Python backend
LLVM_OPS = ["add", "mul", "pow", "mod", "maximum", "where", "atan2"]
CASES = [(op, "python") for op in OPS] + [(op, "llvm") for op in LLVM_OPS]
# (left, right) argument names of each term: s (), v (4,), r (1, 4), c (3, 1), m (3, 4)
PAIRS = [("s", "m"), ("m", "s"), ("v", "m"), ("m", "v"), ("c", "m"), ("r", "c"), ("v", "s"),
         ("s", "s")]


def _source() -> str:
    out = ["import math\nimport numpy as np\n"]
    for name, e in OPS.items():
        # a sum straight over the op hands it one adjoint for every element (kept as a
        # scalar by reverse mode); a sum over sin gives it an array of adjoints
        terms = [f"np.sum({e.format(p=a, q=b)})" for a, b in PAIRS[:-1]]
        terms += [f"np.mean(np.sin({e.format(p=a, q=b)}))" for a, b in (("v", "m"), ("r", "c"))]
        terms.append(f"math.sin({e.format(p='s', q='s')})")
        out.append(f"def sum_{name}(s, v, r, c, m):\n    return " + " + ".join(terms) + "\n")
        outs = [e.format(p=a, q=b) for a, b in (("m", "r"), ("c", "r"), ("s", "m"), ("r", "s"))]
        out.append(f"def out_{name}(s, r, c, m):\n    return " + ", ".join(outs) + "\n")
    return "\n\n".join(out)


@pytest.fixture(scope="module")
def fns(tmp_path_factory):
    path = tmp_path_factory.mktemp("broadcast") / "broadcast_fns.py"
    path.write_text(_source())
    spec = importlib.util.spec_from_file_location("broadcast_fns", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _args(seed):
    rng = np.random.default_rng(seed)
    return [float(rng.uniform(0.6, 1.6))] + [rng.uniform(0.6, 1.6, shape) for shape in
                                             ((4,), (1, 4), (3, 1), (3, 4))]


@pytest.mark.parametrize("op,backend", CASES)
def test_reverse_sums_the_adjoint_over_the_broadcast(fns, op, backend):
    f = getattr(fns, f"sum_{op}")
    args = _args(1)
    got = adjoin.grad(f, wrt=(0, 1, 2, 3, 4), backend=backend)(*args)
    want = numeric_grad(f, args, range(5))
    for name, g, w in zip("svrcm", got, want):
        assert np.shape(g) == np.shape(w), name
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7, err_msg=f"{op}: {name}_bar")


@pytest.mark.parametrize("op,backend", CASES)
def test_forward_tangent_has_the_result_shape(fns, op, backend):
    f = getattr(fns, f"out_{op}")
    args = _args(2)
    rng = np.random.default_rng(3)
    for active in ((0, 1), (2, 3)):  # only the broadcast operands, then the others
        dots = tuple((rng.standard_normal(np.shape(a)) if np.ndim(a) else 0.7)
                     if i in active else None for i, a in enumerate(args[:1] + args[2:]))
        prim = args[:1] + args[2:]
        out, dot = adjoin.jvp(f, tuple(prim), dots, backend=backend)
        eps = 1e-6
        hi = f(*[a + eps * d if d is not None else a for a, d in zip(prim, dots)])
        lo = f(*[a - eps * d if d is not None else a for a, d in zip(prim, dots)])
        for k, (t, h, l) in enumerate(zip(dot, hi, lo)):
            assert np.shape(t) == np.shape(h), f"{op}: output {k} tangent shape"
            np.testing.assert_allclose(t, (h - l) / (2 * eps), rtol=1e-5, atol=1e-6,
                                       err_msg=f"{op}: output {k}, tangents of {active}")


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_scalar_broadcast_into_a_sum_and_a_mean(backend):
    x = np.arange(5.0)
    assert adjoin.grad(lambda x, v: np.sum(x + v), wrt=1, backend=backend)(x, 2.0) == 5.0
    assert adjoin.grad(lambda x, v: np.mean(x - v), wrt=1, backend=backend)(x, 2.0) == -1.0


def plus(x, y):
    return x + y


def minus(x, y):
    return x - y


def modulo(x, y):
    return y % (x + 2.0)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_tangent_of_only_the_broadcast_operand(backend):
    a, b, db = np.ones((3, 4)), np.ones((1, 4)), np.arange(4.0).reshape(1, 4)
    for f, sign in ((plus, 1.0), (minus, -1.0), (modulo, 1.0)):
        _, dot = adjoin.jvp(f, (a, b), (None, db), backend=backend)
        assert dot.shape == (3, 4)
        np.testing.assert_array_equal(dot, sign * np.broadcast_to(db, (3, 4)))


def scalar_into_loop(x, v, n):
    acc = x * 1.0
    for i in range(n):
        acc = np.sin(acc) + v * acc - v
    return np.sum(acc) + np.mean(acc - v)


def broadcast_rows(m, row, v):
    t = np.tanh(m * row + v)
    return np.sum(t * t) + np.sum(m - row)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_broadcast_inside_a_loop(backend):
    args = [np.linspace(0.2, 0.9, 4), 0.7, 3]
    got = adjoin.grad(scalar_into_loop, wrt=(0, 1), backend=backend)(*args)
    want = numeric_grad(scalar_into_loop, args, [0, 1])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_hessian_through_broadcasts_matches_torch(backend):
    pytest.importorskip("torch")
    from adjoin.testing import torch_hessian
    rng = np.random.default_rng(4)
    args = [rng.uniform(0.2, 0.8, (3, 4)), rng.uniform(0.2, 0.8, 4), 0.3]
    for fn, a in ((broadcast_rows, args), (scalar_into_loop, [args[1], 0.7, 2])):
        wrt = (0, 1) if fn is scalar_into_loop else (0, 1, 2)
        got = adjoin.hessian(fn, wrt=wrt, backend=backend)(*a)
        want = torch_hessian(fn, a, wrt)
        for i in range(len(wrt)):
            for j in range(len(wrt)):
                np.testing.assert_allclose(got[i][j], np.reshape(want[i][j], np.shape(got[i][j])),
                                           rtol=1e-9, atol=1e-11, err_msg=f"H[{i}][{j}]")
        v = [rng.standard_normal(np.shape(a[i])) if np.ndim(a[i]) else 0.5 for i in wrt]
        hv = adjoin.hvp(fn, wrt=wrt, backend=backend)(*a, tuple(v))
        for i in range(len(wrt)):
            want_i = sum(np.tensordot(got[i][j], v[j], axes=np.ndim(v[j]))
                         for j in range(len(wrt)))
            np.testing.assert_allclose(hv[i], want_i, rtol=1e-9, atol=1e-11)
