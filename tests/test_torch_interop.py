"""adjoin inside PyTorch (`adjoin.torch.function`: gradcheck, gradgradcheck, nn.Module,
torch.optim) and PyTorch inside adjoin (`adjoin.torch.opaque`), on every backend."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

torch = pytest.importorskip("torch")
import adjoin.torch as at  # noqa: E402

BACKENDS = ["python", "llvm", "torch"]


def damped(x, k, n):
    """A small simulation: n explicit steps of a damped nonlinear oscillator."""
    v = np.zeros_like(x)
    for _ in range(n):
        a = -k * np.sin(x) - 0.1 * v
        v = v + 0.05 * a
        x = x + 0.05 * v
    return x


def energy(x, w):
    s = 0.0
    for i in range(x.shape[0]):
        s += w[i] * np.tanh(x[i]) ** 2
    return s


def two_outputs(x, s):
    return np.exp(x) * s, np.sum(x * x) * s


def t64(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64, generator=g, requires_grad=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradcheck_and_gradgradcheck(backend):
    f = at.function(damped, backend=backend)
    x = t64(4)
    k = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, k: f(x, k, 5), (x, k))
    assert torch.autograd.gradgradcheck(lambda x, k: f(x, k, 5), (x, k))
    g = at.function(energy, backend=backend)
    w = t64(4, seed=1)
    assert torch.autograd.gradcheck(g, (x, w))
    assert torch.autograd.gradgradcheck(g, (x, w))


@pytest.mark.parametrize("backend", BACKENDS)
def test_tuple_outputs_and_a_float_argument(backend):
    f = at.function(two_outputs, backend=backend)
    x = t64(3)
    s = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    a, b = f(x, s)
    assert isinstance(a, torch.Tensor) and a.shape == (3,) and b.dim() == 0
    assert torch.autograd.gradcheck(f, (x, s))
    assert torch.autograd.gradgradcheck(f, (x, s))


@pytest.mark.parametrize("backend", BACKENDS)
def test_gradients_agree_with_torch_autograd_of_the_same_code(backend):
    f = at.function(energy, backend=backend)
    x, w = t64(5), t64(5, seed=2)
    f(x, w).backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad = w.grad = None
    (w * torch.tanh(x) ** 2).sum().backward()
    assert torch.allclose(gx, x.grad, rtol=1e-12) and torch.allclose(gw, w.grad, rtol=1e-12)


class Layer(torch.nn.Module):
    """An adjoin simulation as a layer: a learnable stiffness, then a torch head."""

    def __init__(self, backend):
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(0.3, dtype=torch.float64))
        self.sim = at.function(damped, backend=backend)
        self.head = torch.nn.Linear(4, 1, dtype=torch.float64)

    def forward(self, x):
        return self.head(torch.stack([self.sim(row, self.k, 6) for row in x]))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_model_with_an_adjoin_layer_trains_with_torch_optim(backend):
    torch.manual_seed(0)
    model = Layer(backend)
    x = torch.randn(8, 4, dtype=torch.float64)
    with torch.no_grad():
        target = Layer("python")
        target.k.fill_(1.5)
        y = target(x)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0], losses
    assert model.k.grad is not None


def test_a_derivative_of_a_differentiable_keeps_its_backend():
    f = adjoin.differentiable(energy, backend="llvm")
    assert at.function(f).backend == "llvm"
    assert at.function(energy).backend == "torch"


def test_the_llvm_backend_refuses_device_tensors_clearly():
    f = at.function(energy, backend="llvm")
    with pytest.raises(ValueError, match="runs on the CPU; got a tensor on meta"):
        f(torch.empty(3, dtype=torch.float64, device="meta"),
          torch.empty(3, dtype=torch.float64, device="meta"))


# -- PyTorch inside adjoin --------------------------------------------------------------------


net = torch.nn.Sequential(torch.nn.Linear(3, 5, dtype=torch.float64), torch.nn.Tanh(),
                          torch.nn.Linear(5, 3, dtype=torch.float64))
torch_step = at.opaque(net)


def pipeline(x, scale):
    y = torch_step(x * scale)
    return np.sum(np.sin(y) * x)


@pytest.mark.parametrize("backend", ["python", "torch"])
def test_a_torch_module_inside_an_adjoin_function(backend):
    x = np.array([0.3, -0.2, 0.9])
    f = adjoin.differentiable(pipeline, backend=backend)
    with torch.no_grad():
        want = float((torch.sin(net(torch.tensor(x * 1.7))) * torch.tensor(x)).sum())
    assert float(f(x, 1.7)) == pytest.approx(want, rel=1e-12)
    gx, gs = adjoin.grad(f, wrt=(0, 1))(x, 1.7)
    fd = numeric_grad(pipeline, (x, 1.7), (0, 1))
    np.testing.assert_allclose(np.asarray(gx), fd[0], rtol=1e-6, atol=1e-8)
    assert float(gs) == pytest.approx(fd[1], rel=1e-6)


def test_llvm_code_cannot_call_torch_and_says_so():
    f = adjoin.differentiable(pipeline, backend="llvm")
    with pytest.raises(adjoin.BackendError, match="cannot run on the llvm backend"):
        f(np.ones(3), 1.0)


def test_gradients_cross_both_ways_in_one_model():
    """torch -> adjoin (torch_step inside) -> torch: one gradient end to end."""
    f = at.function(pipeline, backend="torch")
    x = t64(3, seed=4)
    s = torch.tensor(1.2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, s))
    xt = x.detach().clone().requires_grad_(True)
    st = s.detach().clone().requires_grad_(True)
    (torch.sin(net(xt * st)) * xt).sum().backward()
    x.grad = None
    f(x, s).backward()
    assert torch.allclose(x.grad, xt.grad, rtol=1e-12)
