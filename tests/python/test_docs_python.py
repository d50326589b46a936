"""docs/python.md's runnable blocks (a fenced ``python`` block right after a ``<!-- run -->``
line) run as they are, each in a fresh interpreter, against the servers they start on
loopback; so the reference cannot drift from the package."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from conftest import REPO

DOC = REPO / "docs" / "python.md"
BLOCK = re.compile(r"^<!-- run -->\n```python\n(.*?)^```", re.S | re.M)


def blocks() -> list[tuple[int, str]]:
    text = DOC.read_text(encoding="utf-8")
    found = [(text[: m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]
    # Every marker must be followed by a python block, or a snippet would silently not run.
    markers = sum(1 for line in text.splitlines() if line.strip() == "<!-- run -->")
    assert len(found) == markers, "a <!-- run --> line without a python block after it"
    return found


def test_docs_python_has_runnable_blocks() -> None:
    assert len(blocks()) >= 2


@pytest.mark.parametrize("line,code", blocks(), ids=lambda v: f"line{v}" if isinstance(v, int) else "")
def test_docs_python_block_runs(line: int, code: str) -> None:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"docs/python.md:{line} failed:\n{r.stdout}\n{r.stderr}"
