"""Which names are local: only bindings make a name local, as in Python. A global or
captured name passed to a call (`u = step(u, DT)`) stays what it was; it used to be taken
for a local read before its assignment."""
import numpy as np
import pytest

import adjoin
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm", "torch"]
DT = 0.1


def step(u, dt):
    return u + dt * u * u


def fill(a, v):
    a[0] = v


def global_arg_in_loop(x):
    for k in range(3):
        x = step(x, DT)
    return x


def global_arg_assigned(x):
    y = step(x, DT)
    return y * x


def global_arg_in_nested(x):
    def inner(u):
        v = step(u, DT)
        return v
    return inner(x) * 2.0


def captured_array_filled_by_nested(x):
    a = np.zeros(2)

    def inner(v):
        fill(a, v * v)
        return v
    inner(x)
    return a[0] * 3.0 + a[1]


def assigned_after_read(x):
    y = x + DT
    DT = 1.0  # noqa: F841 (makes DT local: the read above is before its assignment)
    return y


CASES = [global_arg_in_loop, global_arg_assigned, global_arg_in_nested,
         captured_array_filled_by_nested]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", CASES, ids=[f.__name__ for f in CASES])
def test_global_passed_to_a_call(fn, backend):
    if backend == "torch":
        pytest.importorskip("torch")
    x = 0.7
    assert float(adjoin.differentiable(fn, backend=backend)(x)) == pytest.approx(fn(x), rel=1e-14)
    g = adjoin.grad(fn, backend=backend)(x)
    assert float(g) == pytest.approx(numeric_grad(fn, [x], [0])[0], rel=1e-7)


def test_a_name_bound_later_is_still_local():
    with pytest.raises(UnboundLocalError):
        assigned_after_read(1.0)
    with pytest.raises(adjoin.CompileError, match="'DT' is used before it is assigned"):
        adjoin.differentiable(assigned_after_read)(1.0)
