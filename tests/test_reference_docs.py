"""The reference docstrings: every public name of `adjoin` documents its arguments, result
and errors with an example, every example runs and prints what it shows, and the Sphinx
reference builds without warnings.

Assumes: the examples use only `adjoin`, `np` and `math` (given to them as globals).
Guarantees: a docstring that loses a section, an example whose output drifts from what the
code returns, or a reference page that Sphinx warns about fails here.
"""
from __future__ import annotations

import doctest
import inspect
import math
import types

import numpy as np
import pytest

import adjoin

PUBLIC = [n for n in adjoin.__all__
          if n != "__version__" and not isinstance(getattr(adjoin, n), types.ModuleType)]
METHODS = [m for m in vars(adjoin.Differentiable)
           if not m.startswith("_") and callable(getattr(adjoin.Differentiable, m))]


def _doc(name: str) -> str:
    obj = getattr(adjoin, name) if "." not in name else \
        getattr(adjoin.Differentiable, name.split(".")[1])
    return inspect.getdoc(obj) or ""


@pytest.mark.parametrize("name", PUBLIC + [f"Differentiable.{m}" for m in METHODS])
def test_docstring_has_sections(name):
    doc = _doc(name)
    assert doc, f"{name} has no docstring"
    obj = getattr(adjoin, name, None)
    is_exception = isinstance(obj, type) and issubclass(obj, BaseException)
    if not is_exception:
        assert "Returns:" in doc or "Attributes:" in doc, f"{name}: no Returns/Attributes"
        if not isinstance(obj, type):
            assert "Args:" in doc, f"{name}: no Args section"
    assert "Example:" in doc, f"{name}: no Example section"


_EXAMPLES = PUBLIC + [f"Differentiable.{m}" for m in METHODS]


@pytest.mark.parametrize("name", _EXAMPLES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    doc = _doc(name)
    test = doctest.DocTestParser().get_doctest(
        doc, {"adjoin": adjoin, "np": np, "math": math, "tmp": str(tmp_path)}, name,
        f"<{name}>", 0)
    assert test.examples, f"{name}: the Example section has no >>> lines"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    try:
        runner.run(test)
    finally:  # the cache examples point the cache at tmp_path: the environment decides again
        from adjoin.cache_store import reset_cache_dir
        reset_cache_dir()
    assert runner.failures == 0, f"{name}: {runner.failures} example(s) print something else"


def test_sphinx_reference_builds_without_warnings(tmp_path):
    build = pytest.importorskip("sphinx.cmd.build")
    import pathlib
    docs = pathlib.Path(__file__).resolve().parent.parent / "docs"
    rc = build.build_main(["-W", "-q", "-b", "html", str(docs), str(tmp_path / "html")])
    assert rc == 0


def _interop_modules():
    import importlib
    names = ["adjoin.torch"] + [f"adjoin.pipeline.{m}" for m in
                                ("primitive", "function", "graph", "torch_module",
                                 "sklearn_transform", "ppca")]
    return [importlib.import_module(n) for n in names]


def test_interop_docstring_examples_run(tmp_path, monkeypatch):
    """The examples in adjoin.torch's and adjoin.pipeline's docstrings print what they show."""
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    ran = 0
    for module in _interop_modules():
        for test in finder.find(module, globs={"adjoin": adjoin, "np": np, "math": math}):
            if test.examples:
                runner.run(test)
                ran += 1
    assert ran >= 4, "the main entry points lost their examples"
    assert runner.failures == 0, f"{runner.failures} example(s) print something else"
