"""Sphinx configuration: the reference (autodoc of adjoin's public names) and the guides.

Build with `python -m sphinx -W -b html docs docs/_build/html` (the `docs` extra installs
Sphinx and MyST).
"""
import adjoin

project = "adjoin"
author = "the adjoin authors"
release = adjoin.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
myst_heading_anchors = 3
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
html_theme = "alabaster"
