"""Runs the Python code blocks of the documentation, so that the docs stay true.

Assumes: a fenced block opened by a line "```python" is a complete program, unless the
line before the fence is `<!-- fragment -->` (then it is only compiled with `compile()`).
A block followed (after blank lines only) by a "```text" block must print that text:
whitespace is normalised (runs of spaces and newlines compare equal) and `...` in the
expected text matches any run of characters.

Guarantees: each program runs from a file of its own in a fresh namespace (adjoin reads a
function's source from its file), with the working directory a fresh tmp_path, so
nothing is written into the checkout. DOC_FILES is README.md and every docs/*.md, so a new
page is checked without being listed. A fence indented inside a list item is dedented.
"""
import os
import re
import runpy
import textwrap
from pathlib import Path
from typing import List, NamedTuple, Optional

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = ["README.md"] + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))
FRAGMENT_MARK = "<!-- fragment -->"


class Block(NamedTuple):
    doc: str
    line: int  # 1-based line of the opening fence
    code: str
    fragment: bool
    expected: Optional[str]


def _fenced(lines: List[str], start: int):
    """The body of the fence opened at lines[start] and the index after its closing fence."""
    body = []
    i = start + 1
    while i < len(lines) and lines[i].strip() != "```":
        body.append(lines[i])
        i += 1
    # A fence inside a list item is indented with it; the program is the dedented body.
    return textwrap.dedent("\n".join(body) + "\n"), i + 1


def collect_blocks(doc: str) -> List[Block]:
    lines = (ROOT / doc).read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        fragment = i > 0 and lines[i - 1].strip() == FRAGMENT_MARK
        code, i_after = _fenced(lines, i)
        j = i_after
        while j < len(lines) and not lines[j].strip():
            j += 1
        expected = None
        if j < len(lines) and lines[j].strip() == "```text":
            expected, i_after = _fenced(lines, j)
        blocks.append(Block(doc, i + 1, code, fragment, expected))
        i = i_after
    return blocks


def output_matches(expected: str, actual: str) -> bool:
    """Whitespace-normalised comparison with `...` as a wildcard."""
    norm = lambda s: " ".join(s.split())
    parts = [re.escape(p) for p in norm(expected).split("...")]
    return re.fullmatch(r".*?".join(parts), norm(actual), flags=re.DOTALL) is not None


BLOCKS = [b for doc in DOC_FILES for b in collect_blocks(doc)]


def test_docs_are_collected():
    """README.md and every docs/*.md page are checked, and the collector finds programs."""
    assert "README.md" in DOC_FILES and "docs/tutorial.md" in DOC_FILES
    assert len(DOC_FILES) == 1 + len(list((ROOT / "docs").glob("*.md")))
    assert sum(not b.fragment for b in BLOCKS) >= 10


def test_every_output_block_belongs_to_a_program():
    """A ```text block not right after a ```python block would go unchecked."""
    for doc in DOC_FILES:
        attached = sum(b.expected is not None for b in collect_blocks(doc))
        text_blocks = sum(line.strip() == "```text"
                          for line in (ROOT / doc).read_text().splitlines())
        assert attached == text_blocks, f"{doc}: an output block follows no python block"


def test_output_matching_can_fail():
    assert output_matches("a  b\n c", "a b c")
    assert output_matches("x = ...", "x = 1.2345")
    assert not output_matches("x = 1.0", "x = 1.5")
    assert not output_matches("a", "a b")


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.doc}:{b.line}" for b in BLOCKS])
def test_snippet(block: Block, tmp_path, monkeypatch, capsys):
    where = f"{block.doc}:{block.line}"
    if block.fragment:
        compile(block.code, where, "exec")
        return
    script = tmp_path / f"snippet_{Path(block.doc).stem}_{block.line}.py"
    script.write_text(block.code)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    if block.expected is not None:
        assert output_matches(block.expected, out), (
            f"{where}: printed\n{out}\nexpected\n{block.expected}")
