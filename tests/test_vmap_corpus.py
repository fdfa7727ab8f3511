"""vmap against a Python loop over the examples: every corpus function whose inputs
stack, on every backend, its lanes taking different branches and trip counts; per-example
gradients against a loop of grad calls."""
import numpy as np
import pytest

import adjoin
from corpus import CORPUS
from vmap_checks import assert_lanes, batch_of, lane_args, reference, to_torch

# Cases whose batch needs something vmap refuses by design: an array whose size differs
# per lane (every lane of a batched array has one shape), recursion under a per-lane
# condition. Each must be refused with a CompileError naming vmap, never run.
# A function writing into its arguments is refused too (it returns new values instead).
REFUSED = {
    "recursion", "fibonacci_recursive", "power_by_squaring", "mutual_recursion_parity",
    "nested_functions_calling_each_other", "array_constructors", "arange_and_linspace",
    "fill_matrix_chained_index", "scale_argument_in_place", "helper_writes_into_callers_argument",
}
WRITES_ARGUMENTS = {"scale_argument_in_place", "helper_writes_into_callers_argument"}

CASES = [c for c in CORPUS if batch_of(c.args) is not None]
BACKENDS = ["python", "llvm", "torch"]


def _run(case, backend):
    args, axes = batch_of(case.args)
    try:
        want = reference(case.fn, args, axes)
    except Exception:  # a lane raises in CPython: not a case for comparing lanes
        pytest.skip("a lane raises in CPython")
    f = adjoin.vmap(case.fn, in_axes=axes, backend=backend)
    given = to_torch(args) if backend == "torch" else args
    return f(*given), want


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_vmap_matches_loop(case, backend):
    if backend == "llvm" and CASES.index(case) % 2:
        pytest.skip("llvm runs every other case (compile time; the rest run on python/torch)")
    if case.name in REFUSED and (backend != "llvm" or case.name in WRITES_ARGUMENTS):
        with pytest.raises(adjoin.CompileError, match="vmap"):
            _run(case, backend)
        return
    if case.name in REFUSED:  # llvm loops over the lanes: each lane runs as written
        args, axes = batch_of(case.args)
        shapes = {np.shape(w) for w in _leaves(reference(case.fn, args, axes))}
        if len(shapes) > 1:  # lanes of different shapes cannot stack
            with pytest.raises(ValueError):
                _run(case, backend)
            return
    with np.errstate(all="ignore"):
        got, want = _run(case, backend)
    assert_lanes(got, want, 1e-9 if "numpy" in case.tags or backend == "torch" else 1e-12)


def _leaves(values):
    return [v for w in values for v in (w if isinstance(w, tuple) else (w,))]


GRAD_CASES = [c for c in CASES if "nograd" not in c.tags and c.name not in REFUSED and
              any(isinstance(a, float) for a in c.args[0])]


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.name)
def test_per_example_gradients(case):
    args, axes = batch_of(case.args)
    wrt = tuple(i for i, a in enumerate(case.args[0]) if isinstance(a, float))
    try:
        want = [adjoin.grad(case.fn, wrt=wrt)(*lane_args(args, axes, k))
                for k in range(len(args[axes.index(0)]))]
    except (TypeError, ArithmeticError, ValueError):
        pytest.skip("no gradient of a lane in the unbatched reference")
    with np.errstate(all="ignore"):
        got = adjoin.vmap(adjoin.grad(case.fn, wrt=wrt), in_axes=axes)(*args)
    assert_lanes(got, want, 1e-9)
