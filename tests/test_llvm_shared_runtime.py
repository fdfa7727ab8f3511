"""The llvm JIT links every module against one runtime per process, compiled once.

A JIT module declares the runtime's functions (keeping only inlinable copies,
available_externally); an ahead-of-time or checked-memory module defines its own.
Gradients compiled against the shared runtime (the suite runs with checked memory, so
it is turned off here) match finite differences and the python backend, taping and
allocating in several modules on the one runtime, and raise as CPython does. The
optimization pipeline is part of the machine code's cache key.
"""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

pytest.importorskip("llvmlite")


def taped(x, n):
    s = 0.0
    for i in range(n):
        y = np.sin(x) * float(i + 1)
        s += np.sum(y * y)
    return s


def other(x):
    return np.sum(np.exp(x) * x)


def out_of_range(x):
    return x[10] * 2.0


def _text(shared: bool) -> str:
    from adjoin.api import module_of, specialize
    from adjoin.backends.llvm import build
    from adjoin.ir.types import ArrayType, F64, I64
    fir = specialize(taped, [ArrayType(F64, 1), I64])
    ml, _ = build(module_of(fir), [fir.name], shared_runtime=shared)
    return str(ml.m)


def _defines(text: str, name: str, linkage: str = "external") -> bool:
    return any(line.startswith(f"define {linkage} ") and f'@"{name}"(' in line
               for line in text.splitlines())


def _declares(text: str, name: str) -> bool:
    return any(line.startswith("declare ") and f'@"{name}"(' in line
               for line in text.splitlines())


def test_jit_modules_declare_the_runtime_and_others_define_it(monkeypatch):
    monkeypatch.setenv("ADJOIN_CHECK_MEMORY", "0")
    shared, own = _text(True), _text(False)
    for name in ("adjoin_ctx_new", "adjoin_ctx_reset", "adjoin_raise"):
        assert _declares(shared, name) and not _defines(shared, name)
        assert _defines(own, name) and not _declares(own, name)
    for name in ("adjoin_push", "adjoin_pop", "adjoin_alloc"):
        assert _defines(shared, name, "available_externally")
    assert "adjoin_ctx_bytes" not in shared  # only Python calls it: the shared one
    monkeypatch.setenv("ADJOIN_CHECK_MEMORY", "1")  # checked memory: a runtime of its own
    assert _defines(_text(True), "adjoin_ctx_new")


def test_gradients_against_the_shared_runtime(monkeypatch):
    monkeypatch.setenv("ADJOIN_CHECK_MEMORY", "0")
    x = np.linspace(-1.0, 1.0, 7)
    g1 = adjoin.grad(taped, backend="llvm")
    g2 = adjoin.grad(other, backend="llvm")
    for _ in range(3):  # contexts reused between calls; both modules on one runtime
        np.testing.assert_allclose(g1(x, 5), numeric_grad(taped, (x, 5), [0])[0],
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(g2(x), adjoin.grad(other, backend="python")(x),
                                   rtol=1e-12)
    value, pullback = adjoin.vjp(taped, x, 5, backend="llvm")
    assert value == pytest.approx(taped(x, 5), rel=1e-12)
    np.testing.assert_allclose(pullback(1.0)[0], g1(x, 5), rtol=1e-12)
    assert pullback.tape_nbytes > 0  # read through the shared runtime's adjoin_ctx_bytes
    with pytest.raises(IndexError):
        adjoin.grad(out_of_range, backend="llvm")(x)


def test_the_pipeline_is_part_of_the_cache_key():
    from adjoin.backends.llvm import cache, jit
    tm = jit.target_machine()
    assert cache.key("x", tm, jit.PIPELINE) != cache.key("x", tm, "O3")
