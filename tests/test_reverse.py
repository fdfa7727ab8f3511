"""Reverse mode: regression tests for arrays, views, in-place updates and the tape."""
import re

import numpy as np

import adjoin
from adjoin.testing import numeric_grad

import golden_fns  # noqa: F401  (shared helpers live in real files)


def state_rows(h, w, n):
    """Rows of a state array read as views, then overwritten (an LSTM's pattern)."""
    st = np.zeros((2, len(h)))
    st[0] = h
    st[1] = h * 0.5
    for t in range(n):
        a = st[0]
        b = st[1]
        b = b * np.tanh(a * w) + a
        a = np.tanh(b) * w
        st[0] = a
        st[1] = b
    return np.sum(st[0] * st[1])


def fill(x, y):
    out = np.zeros(len(x))
    out[1] = x[0]  # overwritten at i = 1: the reverse loop must clear out_bar[i]
    for i in range(1, len(x)):
        out[i] = x[i] * y[i - 1]
    return out


def uses_fill(x, steps):
    y = np.zeros(len(x))
    for _ in range(steps):
        y = y + 0.1 * fill(x, y)
    return np.sum(y * y)


def test_views_of_overwritten_rows():
    rng = np.random.default_rng(1)
    args = [rng.standard_normal(4), rng.standard_normal(4), 3]
    got = adjoin.grad(state_rows, wrt=(0, 1))(*args)
    want = numeric_grad(state_rows, args, [0, 1])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-8)


def test_overwritten_rows_are_updated_in_place():
    """Saving the row views must not force a copy of the whole state at every write."""
    src = adjoin.adjoint_source(state_rows, np.ones(3), np.ones(3), 2, wrt=(0, 1))
    forward = src[:src.index("# grad of")]
    assert "st = st.copy()" not in forward
    assert "st[0] = " in forward


def test_loop_writing_into_an_argument_copies_it_once():
    rng = np.random.default_rng(2)
    args = [rng.uniform(0, 1, 5), 3]
    got = adjoin.grad(uses_fill)(*args)
    np.testing.assert_allclose(got, numeric_grad(uses_fill, args, [0])[0], rtol=1e-6, atol=1e-10)
    src = adjoin.adjoint_source(uses_fill, *args)
    start = re.search(r"def fill\w*_bwd", src)  # another test may have named a `fill` first
    bwd = src[start.start():]
    bwd = bwd[:bwd.index("\ndef ", 1)] if "\ndef " in bwd[1:] else bwd
    loop = bwd[bwd.index("for i in reversed"):]
    assert bwd.count(".copy()") == 1 and ".copy()" not in loop, bwd


def test_pullback_can_be_called_repeatedly():
    def f(x, n):
        s = 0.0
        for i in range(n):
            s += np.sin(x[i]) * x[i]
        return s
    x = np.array([0.1, 0.7, -0.4])
    value, pullback = adjoin.vjp(f, x, 3)
    first = pullback(1.0)[0]
    second = pullback(2.0)[0]
    np.testing.assert_allclose(second, 2 * first)
    np.testing.assert_allclose(first, np.sin(x) + x * np.cos(x))
    assert pullback(1.0)[1] is None


def test_grad_does_not_mutate_inputs():
    x = np.array([1.0, 2.0, 3.0])
    before = x.copy()
    adjoin.grad(uses_fill)(x, 2)
    np.testing.assert_array_equal(x, before)


def test_grad_with_respect_to_int_is_an_error():
    import pytest
    with pytest.raises(TypeError, match="'steps'"):
        adjoin.grad(uses_fill, wrt="steps")(np.ones(3), 2)


def test_grad_of_non_scalar_output_points_to_vjp():
    import pytest
    with pytest.raises(TypeError, match="vjp"):
        adjoin.grad(fill)(np.ones(3), np.ones(3))


def broadcast_square(a, b):
    c = a * b
    return np.sum(c * c)


def test_sum_of_a_square_keeps_its_adjoint_a_scalar():
    """d sum(c * c) / dc is out_bar * 2c: no array of out_bar is built, even when c's
    own shape comes from a broadcast the shape analysis cannot follow."""
    a, b = np.arange(6.0).reshape(2, 3), np.array([1.0, -2.0, 0.5])
    src = adjoin.adjoint_source(broadcast_square, a, b, wrt=(0, 1))
    assert "full_like" not in src
    ga, gb = adjoin.grad(broadcast_square, wrt=(0, 1))(a, b)
    na, nb = numeric_grad(broadcast_square, (a, b), (0, 1))
    np.testing.assert_allclose(ga, na, rtol=1e-6)
    np.testing.assert_allclose(gb, nb, rtol=1e-6)
