"""Elementwise fusion in the llvm backend: fused trees compute what op-by-op code does.

Each function runs on the llvm backend (fused) and on the Python backend; the
LLVM IR is checked to contain a fused loop where one is expected, and none where
fusing would read memory that an in-place write has changed meanwhile.
"""
import numpy as np
import pytest

import adjoin

pytest.importorskip("llvmlite")


def chain(x, y, h):
    return np.sum(y + h / 6.0 * (x + 2.0 * y + 2.0 * x * y + np.sin(x)))


def repeated_leaf(a, b):
    return np.sum(a * b + a) + np.sum((b - a) * b + b)  # two trees, one helper shape


def broadcast_inside(a, b):
    return np.sum((a.reshape(4, 1) + b) * np.exp(b))


def mixed_types(a, k):
    return np.sum((a > 0.5) * (a * k) + (a * 2 == a + a))


def write_between(x):
    y = x * 2.0
    t = y + 1.0
    y[0] = 100.0  # in place: y is fresh and dead after; t must still see 2 x[0] + 1
    return np.sum(t * 3.0) + np.sum(y)


def strided_leaves(a, b):
    return np.sum(a[::2] * b[1:] - a[1::2])


CASES = [
    (chain, lambda r: (r.uniform(0, 1, 50), r.uniform(0, 1, 50), 0.1)),
    (repeated_leaf, lambda r: (r.uniform(0, 1, 7), r.uniform(0, 1, 7))),
    (broadcast_inside, lambda r: (r.uniform(0, 1, 4), r.uniform(0, 1, 5))),
    (mixed_types, lambda r: (r.uniform(0, 1, 9), 3.0)),
    (write_between, lambda r: (r.uniform(0, 1, 6),)),
    (strided_leaves, lambda r: (r.uniform(0, 1, 12), r.uniform(0, 1, 7))),
]


@pytest.mark.parametrize("fn,make", CASES, ids=[c[0].__name__ for c in CASES])
def test_fused_values_and_gradients_match_python_backend(fn, make):
    args = make(np.random.default_rng(1))
    want = fn(*args)
    got = adjoin.differentiable(fn, backend="llvm")(*args)
    assert got == pytest.approx(want, rel=1e-13)
    wrt = tuple(i for i, a in enumerate(args) if isinstance(a, (np.ndarray, float)))
    g_llvm = adjoin.grad(fn, wrt=wrt, backend="llvm")(*args)
    g_py = adjoin.grad(fn, wrt=wrt)(*args)
    for a, b in zip(g_llvm, g_py):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_chains_become_one_loop():
    args = (np.ones(8), np.ones(8), 0.1)
    text = adjoin.llvm_ir(chain, *args, optimized=False)
    assert "adjoin.fused" in text
    # chain's array expression has 9 elementwise ops; fused, it allocates once.
    fused = [line for line in text.splitlines() if line.startswith("define") and "fused" in line]
    assert len(fused) == 1


def test_no_fusion_across_an_in_place_write():
    text = adjoin.llvm_ir(write_between, np.ones(4), optimized=False)
    assert "adjoin.fused" not in text
    x = np.arange(4.0)
    assert adjoin.differentiable(write_between, backend="llvm")(x) == write_between(x)


def test_shape_errors_survive_fusion():
    def bad(a, b, c):
        return np.sum((a + b) * c)
    f = adjoin.differentiable(bad, backend="llvm")
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones(3), np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones(3), np.ones(4), np.ones(3))
    assert f(np.ones(3), np.ones(1), np.ones(3)) == 6.0


def test_fusion_can_be_turned_off(monkeypatch):
    from adjoin.backends.llvm import lower
    monkeypatch.setattr(lower, "FUSE", False)
    text = adjoin.llvm_ir(chain, np.ones(8), np.ones(8), 0.1, optimized=False)
    assert "adjoin.fused" not in text
