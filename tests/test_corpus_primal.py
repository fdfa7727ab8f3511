"""Layer 1 and 3: every corpus function compiles, its IR round-trips and verifies,
and the compiled primal returns what CPython returns."""
import numpy as np
import pytest

import adjoin
from adjoin.ir import parse_module, print_module, verify_module
from adjoin.api import module_of, signature_of, specialize

from corpus import CORPUS


def _compare(got, want, tol):
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want):
            _compare(g, w, tol)
        return
    if isinstance(want, np.ndarray):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
        return
    if tol == 0.0:
        assert got == want or (got != got and want != want), (got, want)
    else:
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def _copy(args):
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


@pytest.mark.parametrize("case", CORPUS, ids=lambda c: c.name)
def test_primal_matches_cpython(case):
    f = adjoin.differentiable(case.fn)
    tol = 1e-12 if "numpy" in case.tags else 0.0
    for args in case.args:
        want = case.fn(*_copy(args))
        got = f(*_copy(args))
        _compare(got, want, tol)


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
