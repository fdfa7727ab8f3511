"""Batched `@`/np.matmul, N-d np.dot, np.tensordot and np.einsum on every backend: values
and dtypes against NumPy, gradients against central differences and torch (matmul,
tensordot, einsum), forward mode and Hessians; the errors NumPy raises and the forms
adjoin refuses at compile time."""
import numpy as np
import pytest

import adjoin
from numpy_checks import BACKENDS, check_all, same_result


def batched(A3, B3, M, v):
    return (np.sum(A3 @ B3) + np.sum(np.matmul(A3, M) ** 2) + np.sum(A3[:1] @ B3 * 0.5)
            + np.sum((A3 @ v) ** 2) + np.sum(v[:3] @ A3) + np.sum(np.dot(A3, v) * 3.0)
            + np.sum(np.dot(A3, M) ** 3) + np.sum(np.dot(v[:3], A3) ** 2)
            + np.sum(np.dot(M.T, B3) ** 2) + np.sum(A3.dot(B3) ** 2))


def batched_torch(A3, B3, M, v):
    import torch

    def dot(a, b):
        return torch.tensordot(a, b, dims=([a.dim() - 1], [b.dim() - 2])) if b.dim() > 2 \
            and a.dim() > 1 else torch.matmul(a, b)
    return (torch.sum(A3 @ B3) + torch.sum(torch.matmul(A3, M) ** 2)
            + torch.sum(A3[:1] @ B3 * 0.5) + torch.sum((A3 @ v) ** 2) + torch.sum(v[:3] @ A3)
            + torch.sum(dot(A3, v) * 3.0) + torch.sum(dot(A3, M) ** 3)
            + torch.sum(dot(v[:3], A3) ** 2) + torch.sum(dot(M.T, B3) ** 2)
            + torch.sum(dot(A3, B3) ** 2))


def contractions(A, B, T):
    return (np.sum(np.tensordot(A, B, axes=1) ** 2) + np.sum(np.tensordot(T, B, axes=([1, 2],
                                                                                 [0, 1])))
            + np.sum(np.tensordot(A, T, axes=([0], [0])) * 0.5) + np.sum(np.tensordot(A, B, 0))
            + np.sum(np.tensordot(T, B) ** 2) + np.sum(np.tensordot(T, A, axes=((0, 1), (0, 1)))))


def contractions_torch(A, B, T):
    import torch
    td = torch.tensordot
    return (torch.sum(td(A, B, dims=1) ** 2) + torch.sum(td(T, B, dims=([1, 2], [0, 1])))
            + torch.sum(td(A, T, dims=([0], [0])) * 0.5) + torch.sum(td(A, B, dims=0))
            + torch.sum(td(T, B) ** 2) + torch.sum(td(T, A, dims=([0, 1], [0, 1]))))


def einsums(A, B, T, v):
    return (np.sum(np.einsum("ij,jk->ik", A, B) ** 2) + np.sum(np.einsum("ij,jk", A, B))
            + np.sum(np.einsum("ij->ji", A) * A.T) + np.einsum("ij->", A)
            + np.sum(np.einsum("ijk->k", T) ** 2) + np.einsum("i,i->", v, v)
            + np.sum(np.einsum("i,j->ij", v, v) ** 2) + np.sum(np.einsum("ijk,jk->i", T, B))
            + np.sum(np.einsum("ij,jk,kl->il", A, B, B.T) ** 2)
            + np.sum(np.einsum("ji", A) ** 3)
            + np.sum(np.einsum("bij,bjk->bik", T, T.transpose(0, 2, 1)))
            + np.sum(np.einsum("i, ij -> j", v[:3], A) ** 2) + np.einsum("ij,ij", A, A))


def einsums_torch(A, B, T, v):
    import torch
    es = torch.einsum
    return (torch.sum(es("ij,jk->ik", A, B) ** 2) + torch.sum(es("ij,jk", A, B))
            + torch.sum(es("ij->ji", A) * A.T) + es("ij->", A)
            + torch.sum(es("ijk->k", T) ** 2) + es("i,i->", v, v)
            + torch.sum(es("i,j->ij", v, v) ** 2) + torch.sum(es("ijk,jk->i", T, B))
            + torch.sum(es("ij,jk,kl->il", A, B, B.T) ** 2)
            + torch.sum(es("ji", A) ** 3) + torch.sum(es("bij,bjk->bik", T, T.permute(0, 2, 1)))
            + torch.sum(es("i,ij->j", v[:3], A) ** 2) + es("ij,ij", A, A))


RNG = np.random.default_rng(12)
A3, B3 = RNG.standard_normal((2, 3, 4)), RNG.standard_normal((2, 4, 3))
M, V4 = RNG.standard_normal((4, 2)), RNG.standard_normal(4)
A, B, T = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 5)), RNG.standard_normal((3, 4, 5))
CASES = [(batched, batched_torch, (A3, B3, M, V4), (0, 1, 2, 3)),
         (contractions, contractions_torch, (A, B, T), (0, 1, 2)),
         (einsums, einsums_torch, (A, B, T, RNG.standard_normal(4)), (0, 1, 2, 3))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn, tfn, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_contractions_in_every_mode(fn, tfn, args, wrt, backend):
    check_all(fn, tfn, args, wrt, backend)


def broadcast_batches(C, D, E):
    return C @ D, np.matmul(E, D), D @ np.ones(3), np.ones(2) @ C


@pytest.mark.parametrize("backend", BACKENDS)
def test_batch_axes_broadcast_as_numpy_does(backend):
    if backend == "torch":
        pytest.importorskip("torch")
    C, D = RNG.standard_normal((3, 1, 2, 4)), RNG.standard_normal((5, 4, 3))
    E = RNG.standard_normal((2, 4))
    f = adjoin.differentiable(broadcast_batches, backend=backend)
    for got, want in zip(f(C, D, E), broadcast_batches(C, D, E)):
        same_result(got, want, backend=backend)


def int_products(I3, J3, K):
    return I3 @ J3, np.einsum("bij,bjk->bik", I3, J3), np.tensordot(I3, K, axes=1), \
        np.einsum("ij,ij->", K[:3], K[:3])


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_integer_contractions_stay_integer(backend):
    I3, J3, K = np.arange(24).reshape(2, 3, 4), np.arange(24).reshape(2, 4, 3), \
        np.arange(12).reshape(4, 3)
    f = adjoin.differentiable(int_products, backend=backend)
    for got, want in zip(f(I3, J3, K), int_products(I3, J3, K)):
        same_result(got, want, backend=backend)


def mismatched_batch(a, b):
    return a @ b


def mismatched_tensordot(a, b):
    return np.tensordot(a, b, axes=([0, 1], [0, 1]))


def mismatched_einsum(a, b):
    return np.einsum("ij,jk->ik", a, b)


@pytest.mark.parametrize("backend", ["python", "llvm"])
def test_lengths_that_differ_raise_value_error(backend):
    cases = [(mismatched_batch, (np.ones((2, 3, 4)), np.ones((3, 4, 5)))),
             (mismatched_batch, (np.ones((2, 3, 4)), np.ones((2, 3, 4)))),
             (mismatched_tensordot, (np.ones((2, 3, 4)), np.ones((3, 2, 5)))),
             (mismatched_einsum, (np.ones((2, 3)), np.ones((2, 2))))]
    for fn, args in cases:
        with pytest.raises(ValueError):
            fn(*args)
        with pytest.raises(ValueError):
            adjoin.differentiable(fn, backend=backend)(*args)


def every_axis(a, b):
    return np.tensordot(a, b, axes=1)


def trace(a):
    return np.einsum("ii->", a)


def ellipsis_free(a):
    return np.einsum("ij->j", a, optimize=True)


def wrong_rank(a):
    return np.einsum("ijk->i", a)


def scalar_matmul(a):
    return a @ 2.0


@pytest.mark.parametrize("fn, arg, match", [
    (every_axis, np.ones(3), "0-d array"),
    (trace, np.ones((2, 2)), "repeated in one operand"),
    (ellipsis_free, np.ones((2, 2)), "keywords"),
    (wrong_rank, np.ones((2, 2)), "2 dimension"),
    (scalar_matmul, np.ones(2), "needs two arrays")])
def test_refused_forms_name_the_construct(fn, arg, match):
    with pytest.raises(adjoin.CompileError, match=match):
        adjoin.differentiable(fn)(*(arg, arg)[:1 + (fn is every_axis)])


def test_a_first_compile_that_starts_with_matmul_loads_the_registries(tmp_path):
    # `@` loads the contraction module lazily; in a fresh process it used to come first
    # and hit a circular import of the NumPy registries.
    import subprocess
    import sys
    script = tmp_path / "first_matmul.py"
    script.write_text("import numpy as np, adjoin\n"
                      "def f(a, b):\n    return a @ b\n"
                      "print(adjoin.differentiable(f)(np.ones(2), np.ones(2)))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2.0"
