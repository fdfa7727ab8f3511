"""print() inside compiled functions prints what CPython prints, on every backend, once
per run of the primal code (never again from derivative code)."""
import shutil

import numpy as np
import pytest

import adjoin

BACKENDS = ["python", "llvm", "torch"]


def reports(x, w):
    s = 0.0
    for i in range(2):
        s = s + np.sum(x * w) * i
        print("step", i, "loss", s, s > 0.5, sep=", ", end=";\n")
    print(None, np.sum(x), x.astype(np.float32) / 3, np.float32(0.1), w.reshape(2, 1) > 0)
    print()
    print(np.arange(3), x[0] * 1e-20, 1e16 * x[1], flush=True)
    helper(x)
    return s * s


def helper(v):
    print("helper sees", v * 2.0)


X, W = np.array([0.5, -1.0]), np.array([2.0, 3.0])


def cpython_output(capsys, fn, *args):
    capsys.readouterr()
    fn(*args)
    return capsys.readouterr().out


@pytest.mark.parametrize("backend", BACKENDS)
def test_prints_what_cpython_prints(backend, capsys):
    want = cpython_output(capsys, reports, X, W)
    assert "step, 1, loss, -2.0, False;" in want
    f = adjoin.differentiable(reports, backend=backend)
    assert cpython_output(capsys, f, X, W) == want


@pytest.mark.parametrize("backend", BACKENDS)
def test_derivatives_print_once(backend, capsys):
    want = cpython_output(capsys, reports, X, W)
    g = adjoin.grad(reports, backend=backend)
    assert cpython_output(capsys, g, X, W) == want
    value, pullback = adjoin.vjp(reports, X, W, backend=backend)
    assert capsys.readouterr().out == want
    pullback(1.0)
    assert capsys.readouterr().out == ""
    adjoin.jvp(reports, (X, W), (np.ones(2), None), backend=backend)
    assert capsys.readouterr().out == want


def prints_tuple(x):
    print((x, x))
    return x


def prints_to_file(x):
    print(x, file=None)
    return x


def prints_variable_sep(x, s):
    print(x, sep=s)
    return x


@pytest.mark.parametrize("fn, args, match", [
    (prints_tuple, (1.0,), "print of a value of type tuple"),
    (prints_to_file, (1.0,), "print's keyword 'file' is not supported"),
    (prints_variable_sep, (1.0, 2.0), "print's sep must be a string constant"),
])
def test_refusals(fn, args, match):
    with pytest.raises(adjoin.CompileError, match=match) as e:
        adjoin.differentiable(fn)(*args)
    assert e.value.loc.file == __file__


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="no C compiler")
def test_ahead_of_time_libraries_refuse_print(tmp_path):
    with pytest.raises(adjoin.CompileError, match="print.. in a function compiled ahead"):
        adjoin.compile_aot(helper, "f64[:]", str(tmp_path), wrt=None)


def prints_around_an_error(x, n):
    for i in range(n):
        print("before", i)
        if i == 2:
            r = x / (x - x)
        print("after", i)
    return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_is_printed_after_an_error(backend, capsys):
    with pytest.raises(ZeroDivisionError):
        prints_around_an_error(1.0, 4)
    want = capsys.readouterr().out
    assert want.endswith("before 2\n")
    with pytest.raises(ZeroDivisionError):
        adjoin.differentiable(prints_around_an_error, backend=backend)(1.0, 4)
    assert capsys.readouterr().out == want
