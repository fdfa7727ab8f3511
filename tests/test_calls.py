"""adjoin compiles exactly the code Python runs, and calls reach it as Python's would.

Which definition is compiled (lambdas sharing a line, `functools.wraps` wrappers, files
edited after import), library code, argument forms adjoin refuses, arrays passed twice
or as overlapping views, closures from factories (one compilation, nothing kept alive),
and first calls from several threads at once. Every case runs on both backends and is
compared with CPython (and derivatives with finite differences).
"""
import gc
import importlib.util
import math
import os
import sys
import threading
import weakref

import numpy as np
import pytest

import adjoin
import call_fns as cf
from adjoin import api, derivatives
from adjoin.backends.base import Target
from adjoin.errors import CompileError, UnknownCallee, UnsupportedSyntax
from adjoin.testing import numeric_grad

BACKENDS = ["python", "llvm"]
SOURCE = open(cf.__file__).read().splitlines()


def marker_line(name: str) -> int:
    hits = [i + 1 for i, line in enumerate(SOURCE) if line.rstrip().endswith(f"# E:{name}")]
    assert len(hits) == 1
    return hits[0]


def compiled(fn, backend):
    return adjoin.differentiable(fn, backend=backend)


# -- which definition is compiled ----------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_lambdas_on_one_line_are_told_apart(backend):
    assert compiled(cf.L1, backend)(1.5) == cf.L1(1.5) == 3.0
    assert compiled(cf.L2, backend)(1.5) == cf.L2(1.5) == 4.5
    assert adjoin.grad(cf.L2, backend=backend)(1.5) == 3.0
    assert adjoin.grad(cf.L1, backend=backend)(1.5) == 2.0
    assert compiled(cf.OUTER, backend)(1.5) == cf.OUTER(1.5) == 15.0
    inner = cf.OUTER.__code__.co_consts  # the inner lambda is compiled inside OUTER only
    assert any(getattr(c, "co_name", "") == "<lambda>" for c in inner)


@pytest.mark.parametrize("backend", BACKENDS)
def test_wraps_wrapper_is_compiled_not_the_wrapped_function(backend):
    assert cf.scaled(1.0) == pytest.approx(101.4)
    assert compiled(cf.scaled, backend)(1.0) == pytest.approx(101.4)
    assert adjoin.grad(cf.scaled, backend=backend)(1.0) == pytest.approx(1.4)
    with pytest.raises(UnsupportedSyntax) as e:  # a wrapper adjoin cannot compile
        compiled(cf.doubled, backend)(1.0)
    assert e.value.loc.file == cf.__file__ and e.value.loc.line == marker_line("wrapper_args")


@pytest.mark.parametrize("backend", BACKENDS)
def test_function_with_assert_in_a_pytest_module(backend):
    # This module's asserts are rewritten by pytest: its code still matches its source.
    def halves(x):
        assert x > 0.0, "positive"
        return x * 0.5
    assert compiled(halves, backend)(3.0) == 1.5
    with pytest.raises(AssertionError):
        compiled(halves, backend)(-3.0)


MODULE_V1 = '''
def f(x):
    return x * 2.0

def g(x):
    return x * 4.0

def helper(x):
    return x + 1.0

def calls_helper(x):
    return helper(x) * 2.0

def outer(x):
    def inner(y):
        return y * 2.0
    return inner(x)
'''
MODULE_V2 = MODULE_V1.replace("x * 4.0", "x * 8.0").replace("x + 1.0", "x + 7.0").replace(
    "y * 2.0", "y * 9.0")  # f and calls_helper are unchanged


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _edit(path, text):
    old = os.stat(path).st_mtime_ns
    with open(path, "w") as fh:
        fh.write(text)
    os.utime(path, ns=(old + 10**9, old + 10**9))  # a later mtime, whatever the clock


@pytest.mark.parametrize("backend", BACKENDS)
def test_file_edited_after_import_is_refused(tmp_path, backend):
    path = tmp_path / f"edited_{backend}.py"
    path.write_text(MODULE_V1)
    mod = _load(path, f"edited_{backend}")
    _edit(path, MODULE_V2)
    assert compiled(mod.f, backend)(1.0) == 2.0  # its definition did not change
    # g changed, calls_helper did not but its callee did, inner changed inside outer.
    for fn, where in ((mod.g, "def g"), (mod.calls_helper, "def helper"),
                      (mod.outer, "def outer")):
        with pytest.raises(CompileError, match="changed since it was imported") as e:
            compiled(fn, backend)(1.0)
        line = next(i + 1 for i, t in enumerate(MODULE_V2.splitlines()) if t.startswith(where))
        assert (e.value.loc.file, e.value.loc.line) == (str(path), line)
    with pytest.raises(CompileError, match="changed since it was imported"):
        adjoin.grad(mod.g, backend=backend)(1.0)
    fresh = _load(path, f"edited_{backend}")  # reloaded: the new code is compiled
    assert compiled(fresh.g, backend)(1.0) == fresh.g(1.0) == 8.0
    assert compiled(fresh.calls_helper, backend)(1.0) == fresh.calls_helper(1.0) == 16.0
    assert compiled(fresh.outer, backend)(1.0) == 9.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_read_before_an_edit_still_matches(tmp_path, backend):
    path = tmp_path / f"read_{backend}.py"
    path.write_text(MODULE_V1)
    mod = _load(path, f"read_{backend}")
    assert compiled(mod.f, backend)(1.0) == 2.0  # the text is read (and kept) now
    _edit(path, MODULE_V2)
    # The kept text is the code Python runs: compiled as it is, or refused; never the edit.
    try:
        assert compiled(mod.g, backend)(1.0) == mod.g(1.0) == 4.0
    except CompileError as e:
        assert "changed since it was imported" in e.message


# -- library code ----------------------------------------------------------------------------


LIBRARY_CALLS = [(cf.calls_isscalar, "isscalar", "isscalar"), (cf.calls_vander, "vander", "vander"),
                 (cf.calls_broadcast_shapes, "broadcast_shapes", "broadcast_shapes"),
                 (cf.calls_stdlib, "stdlib", "rgb_to_hsv")]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,marker,callee", LIBRARY_CALLS, ids=[c[1] for c in LIBRARY_CALLS])
def test_library_callee_is_unknown_at_the_users_call(fn, marker, callee, backend):
    with pytest.raises(UnknownCallee) as e:
        compiled(fn, backend)(0.5)
    assert e.value.loc.file == cf.__file__ and e.value.loc.line == marker_line(marker)
    assert callee in e.value.message


def test_library_function_as_entry_is_refused():
    import colorsys
    with pytest.raises(CompileError, match="only user code"):
        adjoin.grad(colorsys.hls_to_rgb)(0.1, 0.2, 0.3)


# -- argument forms --------------------------------------------------------------------------


def _verbs(backend):
    kw = cf.keyword_params
    return {
        "differentiable": lambda: compiled(kw, backend)(1.0),
        "grad": lambda: adjoin.grad(kw, backend=backend)(1.0),
        "value_and_grad": lambda: adjoin.value_and_grad(kw, backend=backend)(1.0),
        "vjp": lambda: adjoin.vjp(kw, 1.0, backend=backend),
        "jvp": lambda: adjoin.jvp(kw, (1.0,), (1.0,), backend=backend),
        "hessian": lambda: adjoin.hessian(kw, backend=backend)(1.0),
        "jacobian": lambda: adjoin.jacobian(kw, backend=backend)(1.0),
        "derivative": lambda: adjoin.derivative(kw, backend=backend)(1.0),
        "hvp": lambda: adjoin.hvp(kw, backend=backend)(1.0, 1.0),
        "adjoint_source": lambda: adjoin.adjoint_source(kw, 1.0),
        "tangent_source": lambda: adjoin.tangent_source(kw, 1.0),
        "llvm_ir": lambda: adjoin.llvm_ir(kw, 1.0),
        "ir": lambda: adjoin.ir(kw, 1.0),
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_kwargs_parameter_is_reported_at_the_parameter_by_every_verb(backend):
    for verb, run in _verbs(backend).items():
        with pytest.raises(UnsupportedSyntax) as e:
            run()
        assert (e.value.loc.file, e.value.loc.line) == (cf.__file__, marker_line("kwargs")), verb
        assert e.value.construct == "**kwargs", verb


@pytest.mark.parametrize("backend", BACKENDS)
def test_star_args_is_the_same_error_in_jvp_and_grad(backend):
    errors = []
    for run in (lambda: adjoin.grad(cf.star_params, backend=backend)(1.0),
                lambda: adjoin.jvp(cf.star_params, (1.0,), (1.0,), backend=backend)):
        with pytest.raises(UnsupportedSyntax) as e:
            run()
        errors.append((e.value.construct, e.value.loc))
    assert errors[0] == errors[1] == ("*args", errors[0][1])
    assert errors[0][1].line == marker_line("star")


# -- aliased and overlapping array arguments --------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", [cf.write_a_read_b, cf.write_through_callee])
def test_same_array_twice_is_one_array(fn, backend):
    a_py, a = np.arange(1.0, 4.0), np.arange(1.0, 4.0)
    expected = fn(a_py, a_py, 9.0)
    assert compiled(fn, backend)(a, a, 9.0) == expected == 18.0
    assert np.array_equal(a, a_py)
    b = np.arange(1.0, 4.0)  # the same memory as two view objects
    assert compiled(fn, backend)(b[:], b[:], 9.0) == 18.0
    a, c = np.arange(1.0, 4.0), np.arange(1.0, 4.0)  # distinct arrays: the other is read
    assert compiled(fn, backend)(a, c, 9.0) == 2.0 and a[0] == 9.0 and c[0] == 1.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_derivatives_with_aliased_arguments(backend):
    fn = cf.write_a_read_b
    a = np.arange(1.0, 4.0)
    assert adjoin.grad(fn, wrt=2, backend=backend)(a, a, 9.0) == 2.0
    assert adjoin.value_and_grad(fn, wrt="v", backend=backend)(a, a, 9.0) == (18.0, 2.0)
    out, dot = adjoin.jvp(fn, (a, a, 9.0), (None, None, 1.0), backend=backend)
    assert (out, dot) == (18.0, 2.0)
    for run in (lambda: adjoin.grad(fn, wrt=0, backend=backend)(a, a, 9.0),
                lambda: adjoin.grad(fn, wrt=(1, 2), backend=backend)(a, a, 9.0),
                lambda: adjoin.jvp(fn, (a, a, 9.0), (np.ones(3), None, 1.0), backend=backend),
                lambda: adjoin.vjp(fn, a, a, 9.0, backend=backend)):
        with pytest.raises(CompileError, match="shares memory with"):
            run()
    b = np.arange(1.0, 4.0)  # not aliased: every derivative is defined
    g = adjoin.grad(fn, wrt=(1, 2), backend=backend)(np.arange(1.0, 4.0), b, 9.0)
    assert np.array_equal(g[0], [2.0, 0.0, 0.0]) and g[1] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_overlapping_views_are_refused_naming_both(backend):
    a = np.arange(1.0, 5.0)
    with pytest.raises(CompileError) as e:
        compiled(cf.write_a_read_b, backend)(a[1:], a[1:3], 9.0)
    assert "'a'" in e.value.message and "'b'" in e.value.message
    assert np.array_equal(a, np.arange(1.0, 5.0))  # nothing was written
    b = np.arange(1.0, 5.0)  # an argument's array inside another (tuple) argument
    with pytest.raises(CompileError) as e:
        compiled(cf.write_a_read_tuple, backend)(b, (b,), 9.0)
    assert "'a'" in e.value.message and "'t'" in e.value.message
    c = np.arange(1.0, 5.0)
    assert compiled(cf.write_a_read_tuple, backend)(c, (b,), 9.0) == 2.0 and c[0] == 9.0
    # Disjoint views of one array do not share memory: compiled as usual.
    assert compiled(cf.write_a_read_b, backend)(a[:2], a[2:], 9.0) == 6.0 and a[0] == 9.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_array_passed_twice_between_compiled_functions(backend):
    assert compiled(cf.same_array_inside, backend)(4.0) == cf.same_array_inside(4.0) == 8.0
    assert adjoin.grad(cf.same_array_inside, backend=backend)(4.0) == 2.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_aliasing_does_not_matter_without_writes(backend):
    a = np.array([1.0, 2.0, 3.0])
    assert compiled(cf.reads_both, backend)(a, a) == 14.0
    g = adjoin.grad(cf.reads_both, wrt=0, backend=backend)(a, a)  # b held fixed
    assert np.allclose(g, a)


TUPLE_WRITES = [(cf.tuple_holds_written_array, (3.0,), "tuple_local", ("'a'", "'t'")),
                (cf.write_into_returned_tuple, (3.0,), "tuple_returned", ("'b'", "'a'")),
                (cf.write_into_merged_tuple, (3.0, 1), "tuple_merged", ("'u'", "'a'")),
                (cf.write_into_tuple_argument, ((np.zeros(2), np.ones(2)), 5.0),
                 "tuple_argument", ("'a'", "'t'"))]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn,args,marker,names", TUPLE_WRITES, ids=[c[2] for c in TUPLE_WRITES])
def test_arrays_keep_their_aliasing_through_tuples(fn, args, marker, names, backend):
    # CPython sees the write through the tuple; adjoin refuses rather than miss it.
    with pytest.raises(CompileError, match="share memory|through a view") as e:
        compiled(fn, backend)(*args)
    assert (e.value.loc.file, e.value.loc.line) == (cf.__file__, marker_line(marker))
    assert all(n in e.value.message for n in names)


# -- closures --------------------------------------------------------------------------------


class Counter:
    """Counts the primal and gradient compilations every backend is asked for."""

    def __init__(self, monkeypatch):
        self.primal = self.gradient = 0
        real = Target.compile

        def compile(target, module, entries, header=""):
            what = header.split(" ", 1)[0]
            if what in ("primal", "gradient"):
                setattr(self, what, getattr(self, what) + 1)
            return real(target, module, entries, header)
        monkeypatch.setattr(Target, "compile", compile)


@pytest.mark.parametrize("backend", BACKENDS)
def test_closures_of_one_factory_compile_once(backend, monkeypatch):
    count = Counter(monkeypatch)
    ks = np.linspace(0.5, 3.0, 300)
    fs = [cf.make(float(k)) for k in ks]
    for f, k in zip(fs, ks):
        assert compiled(f, backend)(0.7) == pytest.approx(f(0.7), rel=1e-15, abs=0)
        assert adjoin.grad(f, backend=backend)(0.7) == pytest.approx(k + math.cos(0.7) * k)
    assert (count.primal, count.gradient) == (1, 1)
    x = np.linspace(0.0, 1.0, 4)  # another signature: one more compilation each
    for f in fs[:5]:
        assert np.allclose(compiled(f, backend)(x), f(x))
    assert count.primal == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_closures_are_not_kept_alive(backend):
    fs = [cf.make(float(k)) for k in range(20)] + [cf.make_lambda(float(k)) for k in range(5)]
    refs = [weakref.ref(f) for f in fs]
    for f in fs:
        d = compiled(f, backend)
        d(0.5), d(0.5)
        g = adjoin.grad(f, backend=backend)
        g(0.5), g(0.5)
        adjoin.jvp(f, (0.5,), (1.0,), backend=backend)
        adjoin.hessian(f, backend=backend)(0.5)
        adjoin.vjp(f, 0.5, backend=backend)[1](1.0)
    del fs, f, d, g
    gc.collect()
    assert [r() for r in refs] == [None] * len(refs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_rebinding_a_captured_variable_is_seen(backend):
    f, set_k = cf.make_rebindable(2.0)
    d, g = compiled(f, backend), adjoin.grad(f, backend=backend)
    assert (d(3.0), g(3.0)) == (6.0, 2.0)
    set_k(5.0)
    assert (d(3.0), g(3.0)) == (15.0, 5.0) == (f(3.0), 5.0)
    set_k(np.array([1.0, 2.0]))  # a new type: a new specialization
    assert np.array_equal(d(3.0), f(3.0))


@pytest.mark.parametrize("backend", BACKENDS)
def test_captured_functions_are_part_of_the_key(backend):
    f2, f3 = cf.make_caller(cf.make(2.0), 10.0), cf.make_caller(cf.make(3.0), 10.0)
    for f in (f2, f3, f2):
        assert compiled(f, backend)(0.4) == pytest.approx(f(0.4), rel=1e-15)
        assert adjoin.grad(f, backend=backend)(0.4) == pytest.approx(numeric_grad(f, (0.4,), (0,))[0])


@pytest.mark.parametrize("backend", BACKENDS)
def test_captured_objects_are_keyed_by_identity_without_keeping_them(backend):
    two, three = cf.Settings(2.0), cf.Settings(3.0)
    f2, f3 = cf.make_with_settings(two), cf.make_with_settings(three)
    assert (compiled(f2, backend)(1.5), compiled(f3, backend)(1.5)) == (3.0, 4.5)
    ref = weakref.ref(three)
    del f3, three
    gc.collect()
    assert ref() is None
    four = cf.Settings(4.0)  # may reuse the dead object's id: never its compilation
    assert compiled(cf.make_with_settings(four), backend)(1.5) == 6.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_closure_writing_into_a_captured_array(backend):
    buf, expected = np.zeros(2), np.zeros(2)
    f = cf.make_writer(buf)
    assert compiled(f, backend)(2.0) == cf.make_writer(expected)(2.0) == 6.0
    assert np.array_equal(buf, expected)


# -- threads ----------------------------------------------------------------------------------


def _first_calls(backend, errors, results, barrier, k):
    x, y = np.linspace(0.1, 0.9, 5), 0.3
    fn = [cf.distinct_0, cf.distinct_1, cf.distinct_2, cf.distinct_3][k % 4]
    try:
        barrier.wait()
        g_shared = adjoin.grad(cf.shared, wrt=(0, 1), backend=backend)(x, y)
        primal = compiled(cf.shared, backend)(x, y)
        _, dot = adjoin.jvp(cf.shared, (x, y), (np.ones(5), 0.0), backend=backend)
        g = adjoin.grad(fn, wrt=(0, 1), backend=backend)(x, y)
        own = compiled(fn, backend)(x, y)
        results.append((k, g_shared, primal, dot, g, own))
    except BaseException as e:  # noqa: B902 - every failure is reported
        errors.append(f"{type(e).__name__}: {e}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_first_calls_from_eight_threads(backend, tmp_path, monkeypatch):
    x, y = np.linspace(0.1, 0.9, 5), 0.3
    for round in range(3):
        # Every round makes first calls again, writing generated files anew.
        monkeypatch.setenv("ADJOIN_CACHE_DIR", str(tmp_path / str(round)))
        derivatives.reset_caches()
        errors, results = [], []
        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=_first_calls,
                                    args=(backend, errors, results, barrier, k))
                   for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(results) == 8
        expected_shared = numeric_grad(cf.shared, (x, y), (0, 1))
        for k, g_shared, primal, dot, g, own in results:
            fn = [cf.distinct_0, cf.distinct_1, cf.distinct_2, cf.distinct_3][k % 4]
            assert primal == pytest.approx(cf.shared(x, y))
            assert dot == pytest.approx(np.sum(np.cos(x) * y))
            assert own == pytest.approx(fn(x, y))
            for got, want in zip(g_shared + g, expected_shared + numeric_grad(fn, (x, y), (0, 1))):
                assert np.allclose(got, want, atol=1e-6)


def doubles_entry(a, i):
    a[i] = a[i] * 2.0


def writes_through_calls_in_a_loop(a, idx, n):
    for i in range(n):
        doubles_entry(a, i)
        np.add.at(a, idx, a[0] * 0.5)
    return np.sum(a * a)


@pytest.mark.parametrize("backend", ["python", "llvm", "torch"])
def test_calls_writing_into_an_argument_inside_a_loop(backend):
    from adjoin.testing import numeric_grad
    idx = np.array([0, 2, 2])
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])
    f = adjoin.differentiable(writes_through_calls_in_a_loop, backend=backend)
    assert f(a, idx, 2) == pytest.approx(writes_through_calls_in_a_loop(b, idx, 2))
    np.testing.assert_allclose(a, b)  # the caller's array is written as CPython writes it
    got = adjoin.grad(f)(np.array([1.0, 2.0, 3.0]), idx, 2)
    want = numeric_grad(lambda x: writes_through_calls_in_a_loop(x.copy(), idx, 2),
                        (np.array([1.0, 2.0, 3.0]),), (0,))[0]
    np.testing.assert_allclose(got, want, rtol=1e-6)
