"""The torch backend's code under torch.compile: loops with fixed trip counts are captured
as one graph (no graph break: no value is read back from the device), a branch on tensor
data breaks the graph where documented, and compiled code returns what it returned before."""
import numpy as np
import pytest

import adjoin
from adjoin.calls import signature_of
from adjoin.derivatives import compiled_gradient
from adjoin.primal import check_backend

torch = pytest.importorskip("torch")
dynamo = pytest.importorskip("torch._dynamo")

import sys, os  # noqa: E401,E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks.arrays import MAKERS  # noqa: E402


def gradient_code(fn, args, wrt):
    return compiled_gradient(fn, signature_of(fn, args), tuple(wrt), False,
                             check_backend("torch"))


@pytest.mark.parametrize("name, size", [("ode", (50, 3)), ("gmm", (4, 3, 20)),
                                        ("lstm", (1, 4, 2))])
def test_gradients_are_captured_as_one_graph(name, size):
    fn, args, wrt = MAKERS[name](*size)
    targs = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    code = gradient_code(fn, args, wrt)
    dynamo.reset()
    explained = dynamo.explain(code)(*targs, 1.0)
    assert (explained.graph_count, explained.graph_break_count) == (1, 0), \
        explained.break_reasons
    compiled = torch.compile(code, backend="eager")
    for got, want in zip(compiled(*targs, 1.0), code(*targs, 1.0)):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-14)


def clipped(x, limit):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] > limit:  # control flow reads tensor data: the host waits for it
            s += limit
        else:
            s += x[i] * x[i]
    return s


def test_a_branch_on_tensor_data_breaks_the_graph():
    x = np.array([0.5, 2.0, -1.0])
    code = gradient_code(clipped, (x, 1.0), [0])
    dynamo.reset()
    explained = dynamo.explain(code)(torch.tensor(x), 1.0, 1.0)
    # Not one whole graph: dynamo breaks the graph there or runs the frame eagerly.
    assert (explained.graph_count, explained.graph_break_count) != (1, 0)
    got = torch.compile(code, backend="eager")(torch.tensor(x), 1.0, 1.0)
    assert torch.allclose(got, torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64))
