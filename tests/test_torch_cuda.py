"""The torch backend on a CUDA device (skipped where none is present): the corpus primal and
gradients against the Python backend, results on the device, no device-to-host copies
inside compiled loops, and the interop's gradcheck."""
import numpy as np
import pytest

import adjoin
from corpus import CORPUS
from test_gradients import _cases, _copy, _float_params

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")


def cuda(a):
    if isinstance(a, np.ndarray):
        return torch.tensor(a, device="cuda")
    if isinstance(a, tuple):
        return tuple(cuda(x) for x in a)
    return a


def host(a):
    if isinstance(a, torch.Tensor):
        assert a.device.type == "cuda"
        a = a.cpu()
        return a.numpy() if a.dim() else a.item()
    if isinstance(a, tuple):
        return tuple(host(x) for x in a)
    return a


ARRAY_CASES = [c for c in CORPUS if any(isinstance(a, np.ndarray) for a in c.args[0])]


@pytest.mark.parametrize("case", ARRAY_CASES, ids=lambda c: c.name)
def test_corpus_primal_on_cuda(case):
    ref = adjoin.differentiable(case.fn)
    f = adjoin.differentiable(case.fn, backend="torch")
    for args in case.args:
        try:
            want = ref(*_copy(args))
        except Exception:  # noqa: BLE001 - compared on CPU in test_torch_backend
            continue
        got = host(f(*[cuda(a) for a in _copy(args)]))
        np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", [c for c in _cases()
                                  if any(isinstance(a, np.ndarray) for a in c.args[0])],
                         ids=lambda c: c.name)
def test_corpus_gradients_on_cuda(case):
    for args in case.args:
        wrt = _float_params(args)
        out = case.fn(*_copy(args))
        if not wrt or not isinstance(out, float):
            continue
        want = adjoin.grad(case.fn, wrt=tuple(wrt))(*_copy(args))
        got = adjoin.grad(case.fn, wrt=tuple(wrt), backend="torch")(
            *[cuda(a) for a in _copy(args)])
        for g, w in zip(got, want):
            np.testing.assert_allclose(host(g) if isinstance(g, torch.Tensor) else g, w,
                                       rtol=1e-12, atol=1e-12)


def test_no_device_sync_in_a_loop_without_data_dependent_control():
    def ode_like(x, s):
        y = np.zeros_like(x)
        for _ in range(s):
            y = y + 0.1 * (x * np.sin(y) - y)
        return np.sum(y * y)
    f = adjoin.differentiable(ode_like, backend="torch")
    g = adjoin.grad(f)
    x = torch.rand(1000, dtype=torch.float64, device="cuda")
    g(x, 5)  # compile first
    torch.cuda.set_sync_debug_mode("error")
    try:
        out = g(x, 20)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert out.device.type == "cuda"


def test_interop_gradcheck_on_cuda():
    import adjoin.torch as at

    def energy(x, w):
        return np.sum(w * np.tanh(x) ** 2)
    f = at.function(energy, backend="torch")
    x = torch.rand(5, dtype=torch.float64, device="cuda", requires_grad=True)
    w = torch.rand(5, dtype=torch.float64, device="cuda", requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, w))
    assert torch.autograd.gradgradcheck(f, (x, w))
