"""The backend interface: every verb runs on the backend it is given or the one its function
was compiled for, a new backend plugs in by registering one object, and each backend refuses
values it does not take with a clear error."""
import numpy as np
import pytest

import adjoin
from adjoin.backends import base
from adjoin.backends.python import PythonBackend
from adjoin.errors import BackendError
from adjoin.primal import reset_caches
from adjoin.testing import numeric_grad


def energy(x, w, n):
    s = 0.0
    for i in range(n):
        s += np.sin(x[i]) * w[i] ** 2
    return s


def scalar_energy(a, b):
    return a * a * b + np.sin(a)


class Recording(PythonBackend):
    """The Python backend under another name, remembering what it was asked to compile."""

    name = "recording"

    def __init__(self):
        self.compiled = []

    def compile(self, module, entries, header, error_model):
        self.compiled.append(header.split(" ", 1)[0])
        return super().compile(module, entries, header, error_model)


@pytest.fixture
def recording():
    reset_caches()  # code compiled for an earlier "recording" backend is forgotten
    backend = base.register(Recording())
    yield backend
    del base.REGISTRY["recording"]


X, W = np.linspace(0.1, 0.9, 5), np.linspace(1.0, 2.0, 5)


def test_every_verb_runs_on_a_registered_backend(recording):
    f = adjoin.differentiable(energy, backend="recording")
    assert f(X, W, 5) == pytest.approx(energy(X, W, 5), rel=1e-14)
    g = adjoin.grad(f, wrt=(0, 1))(X, W, 5)
    fd = numeric_grad(energy, (X, W, 5), (0, 1))
    assert np.allclose(g[0], fd[0], rtol=1e-6) and np.allclose(g[1], fd[1], rtol=1e-6)
    value, (gx,) = adjoin.value_and_grad(f, wrt=(0,))(X, W, 5)
    assert value == pytest.approx(energy(X, W, 5)) and np.allclose(gx, g[0])
    _, pullback = adjoin.vjp(f, X, W, 5)
    assert np.allclose(pullback(2.0)[0], 2 * g[0])
    _, dot = adjoin.jvp(f, (X, W, 5), (np.ones(5), None, None))
    assert dot == pytest.approx(np.sum(g[0]))
    h = adjoin.hessian(f)(X, W, 5)
    assert np.allclose(h, np.diag(-np.sin(X) * W ** 2))
    assert np.allclose(adjoin.hvp(f)(X, W, 5, np.ones(5)), h @ np.ones(5))
    assert np.allclose(adjoin.jacobian(f)(X, W, 5), g[0])
    s = adjoin.differentiable(scalar_energy, backend="recording")
    assert adjoin.derivative(s, order=2)(0.3, 2.0) == pytest.approx(2 * 2.0 - np.sin(0.3))
    assert adjoin.grad(adjoin.grad(s), wrt=1)(0.3, 2.0) == pytest.approx(2 * 0.3)
    assert sorted(set(recording.compiled)) == ["derivative", "gradient", "hessian", "jvp",
                                               "primal", "vjp"]
    assert "# grad of:" in adjoin.adjoint_source(f, X, W, 5)
    assert "# tangent of:" in adjoin.tangent_source(f, X, W, 5)


@pytest.mark.parametrize("verb", ["grad", "value_and_grad", "hessian", "jacobian"])
def test_a_derivative_runs_on_its_functions_backend(recording, verb):
    f = adjoin.differentiable(energy, backend="recording")
    out = getattr(adjoin, verb)(f)(X, W, 5)
    assert recording.compiled[-1] in ("gradient", "hessian", "jvp", "vjp")
    n = len(recording.compiled)
    again = getattr(f, verb)()(X, W, 5)  # the method: the same target, the same code
    assert len(recording.compiled) == n
    np.testing.assert_equal(again, out)


def test_an_explicit_backend_wins_over_the_functions(recording):
    f = adjoin.differentiable(energy, backend="recording")
    g = adjoin.grad(f, backend="python")(X, W, 5)
    assert recording.compiled == [] and np.allclose(g, np.cos(X) * W ** 2)


def test_llvm_functions_differentiate_on_llvm(monkeypatch):
    seen = []
    real = base.Target.compile

    def compile(target, module, entries, header=""):
        seen.append(target.name)
        return real(target, module, entries, header)
    monkeypatch.setattr(base.Target, "compile", compile)
    f = adjoin.differentiable(energy, backend="llvm", error_model="numpy")
    adjoin.grad(f)(X, W, 5)
    adjoin.jvp(f, (X, W, 5), (np.ones(5), None, None))
    assert seen and set(seen) == {"llvm"}


def test_unknown_backends_and_error_models_are_named():
    with pytest.raises(ValueError, match="unknown backend 'gpu'.*'llvm'.*'python'.*'torch'"):
        adjoin.differentiable(energy, backend="gpu")
    with pytest.raises(ValueError, match="unknown error_model 'c'"):
        adjoin.grad(energy, error_model="c")
    with pytest.raises(TypeError, match="backend must be a name"):
        adjoin.grad(energy, backend=3)


def test_a_backend_with_missing_libraries_is_a_backend_error(monkeypatch):
    class Missing(PythonBackend):
        name = "missing"

        def check_available(self):
            raise BackendError("the missing backend needs libmissing")
    monkeypatch.setitem(base.REGISTRY, "missing", Missing())
    with pytest.raises(BackendError, match="libmissing"):
        adjoin.differentiable(energy, backend="missing")


def test_the_python_backend_keeps_cpythons_error_model():
    assert base.target("python", "numpy").error_model == "python"
    assert base.target("llvm", "numpy").error_model == "numpy"


def test_source_views_name_backends_that_do_not_generate_python():
    f = adjoin.differentiable(energy, backend="llvm")
    assert "def " in adjoin.adjoint_source(f, X, W, 5)  # the Python a reader can follow
    with pytest.raises(ValueError, match="generates llvm, not Python; use adjoin.llvm_ir"):
        adjoin.adjoint_source(f, X, W, 5, backend="llvm")


def test_numpy_backends_refuse_torch_tensors():
    torch = pytest.importorskip("torch")
    for backend in ("python", "llvm"):
        f = adjoin.differentiable(energy, backend=backend)
        with pytest.raises(TypeError, match="argument 'x' of energy.* is a torch tensor.*"
                                            "backend=\"torch\""):
            f(torch.tensor(X), W, 5)
        with pytest.raises(TypeError, match="torch tensor"):
            adjoin.grad(f)(torch.tensor(X), W, 5)
