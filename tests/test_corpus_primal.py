"""Layer 1 and 3: every corpus function compiles, its IR round-trips and verifies,
and the compiled primal returns what CPython returns: the same values (exactly, or
within 1e-12 for "numpy" cases), the same scalar kinds (bool, int or float) and
array dtypes, and the caller's arrays left exactly as CPython leaves them."""
import numpy as np
import pytest

import adjoin
from adjoin.ir import parse_module, print_module, verify_module
from adjoin.api import module_of, signature_of, specialize

from corpus import CORPUS


def _compare(got, want, tol, kinds=True):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _compare(g, w, tol, kinds)
        return
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype, (got, want)
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        return
    if kinds or _kind(want) != "int":
        assert _kind(got) == _kind(want), f"{got!r} is a {_kind(got)}, CPython gives {want!r}"
    if tol == 0.0:
        assert got == want or (got != got and want != want), (got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _kind(v) -> str:
    """bool, int or float, whether a Python or a NumPy scalar (2 and 2.0 differ)."""
    for kind, types in (("bool", (bool, np.bool_)), ("int", (int, np.integer)),
                        ("float", (float, np.floating))):
        if isinstance(v, types):
            return kind
    return type(v).__name__


def _copy(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_primal_matches_cpython(case):
    f = adjoin.differentiable(case.fn)
    tol = 1e-12 if "numpy" in case.tags else 0.0
    for args in case.args:
        want = case.fn(*_copy(args))
        got = f(*_copy(args))
        _compare(got, want, tol, kinds="int_or_float" not in case.tags)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_ir_roundtrips_and_verifies(case):
    for args in case.args:
        module = module_of(specialize(case.fn, signature_of(case.fn, args)))
        verify_module(module)
        text = print_module(module)
        again = parse_module(text)
        verify_module(again)
        assert print_module(again) == text
        assert print_module(parse_module(print_module(module, locs=True)), locs=True) == \
            print_module(module, locs=True)


def _same_value(a, b) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape \
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b or (a != a and b != b)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_inputs_change_only_as_in_cpython(case):
    """The compiled call leaves the caller's arrays exactly as CPython leaves them."""
    f = adjoin.differentiable(case.fn)
    for args in case.args:
        by_python, by_adjoin = _copy(args), _copy(args)
        case.fn(*by_python)
        f(*by_adjoin)
        for k, (want, got) in enumerate(zip(by_python, by_adjoin)):
            assert _same_value(got, want), f"argument {k} after the call: {got!r} != {want!r}"
