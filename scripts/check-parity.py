#!/usr/bin/env python3
"""Checks the capability table (docs/parity.md) against
the repository, so that the table cannot drift from the tests it cites.

Every table whose first header cell is ``capability`` must have exactly the columns

    | capability | Rust | C | C++ | Python | Python asyncio | CLI |

and every row must have one cell per column. Each language cell is either

    ✓ `path/from/repo/root::name`, `other/path::name`     (one reference or more)
    — reason                                               (an em dash and a reason)

A reference names a file relative to the repository root, optionally followed by ``::name``;
the file must exist and ``name`` must occur in it as a whole word (not inside a longer
identifier). An empty cell, a cell that is neither ✓ nor —, a ✓ without a reference, a — without
a reason, a row with the wrong number of cells and a capability listed twice are problems too.
Each problem is printed with its file, line, row and column; the exit status is 1 if there is
any.

    scripts/check-parity.py               check docs/parity.md
    scripts/check-parity.py FILE...       check these files instead
    scripts/check-parity.py --self-test   prove the checker catches what it should

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["capability", "Rust", "C", "C++", "Python", "Python asyncio", "CLI"]
CHECK = "✓"
DASH = "—"
REF = re.compile(r"`([^`]*)`")


class Problem(NamedTuple):
    file: str
    line: int
    row: str
    column: str
    text: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.row:
            where += f": row {self.row!r}"
        if self.column:
            where += f", column {self.column!r}"
        return f"{where}: {self.text}"


def split_row(line: str) -> list[str]:
    """The cells of a Markdown table row; a `|` inside backticks does not split."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|") and not body.endswith("\\|"):
        body = body[:-1]
    cells, cell, in_code = [], [], False
    for ch in body:
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(ch)
    cells.append("".join(cell).strip())
    return cells


def is_separator(line: str) -> bool:
    cells = split_row(line)
    return bool(cells) and all(re.fullmatch(r":?-{3,}:?", c) for c in cells)


def check_reference(ref: str, root: Path) -> str | None:
    """None when `ref` (``path`` or ``path::name``) resolves, else what is wrong."""
    path, sep, name = ref.partition("::")
    path = path.strip()
    if not path:
        return f"`{ref}`: no file named"
    if Path(path).is_absolute() or ".." in Path(path).parts:
        return f"`{ref}`: the path must be relative to the repository root"
    file = root / path
    if not file.is_file():
        return f"`{ref}`: no such file {path}"
    if sep and not name.strip():
        return f"`{ref}`: empty name after ::"
    if name:
        text = file.read_text(encoding="utf-8", errors="replace")
        word = re.compile(r"(?<![A-Za-z0-9_])" + re.escape(name) + r"(?![A-Za-z0-9_])")
        if not word.search(text):
            return f"`{ref}`: {name!r} does not occur as a whole word in {path}"
    return None


def check_cell(cell: str, root: Path) -> list[str]:
    """What is wrong with one language cell (empty list: nothing)."""
    if not cell:
        return ["empty cell"]
    if cell.startswith(CHECK):
        refs = REF.findall(cell)
        if not refs:
            return ["✓ without a backticked `path::name` of the test that proves it"]
        return [p for p in (check_reference(r, root) for r in refs) if p]
    if cell.startswith(DASH):
        if not cell[len(DASH):].strip():
            return ["— without a reason"]
        return []
    return [f"neither ✓ nor —: {cell!r}"]


def check_file(path: Path, root: Path) -> list[Problem]:
    """Every problem of the capability tables in `path`."""
    return check_tables(path, root)[0]


def check_tables(path: Path, root: Path) -> tuple[list[Problem], int]:
    """Every problem of the capability tables in `path`, and how many rows they have."""
    shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    if not path.is_file():
        return [Problem(shown, 0, "", "", "file not found")], 0
    lines = path.read_text(encoding="utf-8").splitlines()
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    tables = rows = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith("|") or split_row(line)[0] != COLUMNS[0]:
            i += 1
            continue
        tables += 1
        header = split_row(line)
        if header != COLUMNS:
            problems.append(Problem(shown, i + 1, "", "",
                                    f"header {header} is not {COLUMNS}"))
        if i + 1 >= len(lines) or not is_separator(lines[i + 1]):
            problems.append(Problem(shown, i + 1, "", "", "header not followed by |---|"))
            i += 1
            continue
        i += 2
        while i < len(lines) and lines[i].lstrip().startswith("|"):
            cells = split_row(lines[i])
            name = cells[0]
            if len(cells) != len(COLUMNS):
                problems.append(Problem(shown, i + 1, name, "",
                                        f"{len(cells)} cells, want {len(COLUMNS)}"))
            if not name:
                problems.append(Problem(shown, i + 1, "", COLUMNS[0], "empty cell"))
            elif name in seen:
                problems.append(Problem(shown, i + 1, name, COLUMNS[0],
                                        f"listed twice (first on line {seen[name]})"))
            else:
                seen[name] = i + 1
            rows += 1
            for column, cell in zip(COLUMNS[1:], cells[1:]):
                for text in check_cell(cell, root):
                    problems.append(Problem(shown, i + 1, name, column, text))
            i += 1
    if tables == 0:
        problems.append(Problem(shown, 0, "", "", "no capability table (header "
                                f"| {' | '.join(COLUMNS)} |)"))
    return problems, rows


def default_files(root: Path) -> list[Path]:
    return [root / "docs" / "parity.md"]


def run(files: list[Path], root: Path) -> int:
    problems: list[Problem] = []
    rows = 0
    for f in files:
        found, n = check_tables(f, root)
        problems += found
        rows += n
    for p in problems:
        print(p)
    if not problems:
        print(f"check-parity: {rows} rows in {len(files)} file(s), every cited test found")
        return 0
    print(f"check-parity: {len(problems)} problem(s)", file=sys.stderr)
    return 1


# -- self-test -------------------------------------------------------------------------------

HEADER = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
GOOD = "✓ `tests/t.rs::real_test`"


def _row(name: str, *cells: str) -> str:
    return "| " + " | ".join([name, *cells]) + " |\n"


def _good_cells() -> list[str]:
    return [GOOD, "— not in the C API", GOOD + ", `tests/t.rs`", GOOD, "— untested", "— no flag"]


def self_test() -> int:
    """Writes good and bad tables into a scratch repository and checks that each bad one is
    reported (with its row and column) and the good one is not."""
    cases: list[tuple[str, str, list[tuple[str, str, str]]]] = []

    def bad(label: str, column: int, cell: str, want: str) -> None:
        cells = _good_cells()
        cells[column] = cell
        cases.append((label, HEADER + _row("cap", *cells), [("cap", COLUMNS[column + 1], want)]))

    cases.append(("good table", HEADER + _row("cap", *_good_cells()) + _row("other", *_good_cells()), []))
    bad("missing file", 0, "✓ `tests/nope.rs::real_test`", "no such file")
    bad("missing name", 3, "✓ `tests/t.rs::imaginary_test`", "does not occur")
    bad("name only inside a longer word", 1, "✓ `tests/t.rs::real`", "does not occur")
    bad("one of two references missing", 2, GOOD + ", `tests/t.rs::gone`", "does not occur")
    bad("empty cell", 4, "", "empty cell")
    bad("neither ✓ nor —", 5, "yes", "neither")
    bad("✓ without a reference", 0, "✓ it works", "without a backticked")
    bad("— without a reason", 1, "—", "without a reason")
    bad("path escaping the root", 0, "✓ `../t.rs::real_test`", "relative to the repository root")
    cases.append(("too few cells", HEADER + _row("cap", *_good_cells()[:4]),
                  [("cap", "", "5 cells, want 7")]))
    cases.append(("duplicate row", HEADER + _row("cap", *_good_cells()) + _row("cap", *_good_cells()),
                  [("cap", "capability", "listed twice")]))
    cases.append(("wrong header", "| capability | Rust | C |\n|---|---|---|\n| cap | — a | — b |\n",
                  [("", "", "is not"), ("cap", "", "3 cells, want 7")]))
    cases.append(("no table", "nothing here\n", [("", "", "no capability table")]))

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tests").mkdir()
        (root / "tests" / "t.rs").write_text("#[test]\nfn real_test() {}\n", encoding="utf-8")
        for n, (label, text, want) in enumerate(cases):
            table = root / f"case{n}.md"
            table.write_text("# parity\n\n" + text, encoding="utf-8")
            got = check_file(table, root)
            ok = len(got) == len(want) and all(
                p.row == row and p.column == col and needle in p.text
                for p, (row, col, needle) in zip(got, want)
            )
            if not ok:
                failures += 1
                print(f"self-test FAILED: {label}: want {want}, got {[str(p) for p in got]}")
    if failures:
        print(f"check-parity self-test: {failures} of {len(cases)} cases failed", file=sys.stderr)
        return 1
    print(f"check-parity self-test: ok ({len(cases)} cases)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path,
                    help="tables to check (default: docs/parity.md)")
    ap.add_argument("--root", type=Path, default=ROOT, help="repository root (default: %(default)s)")
    ap.add_argument("--self-test", action="store_true", help="check the checker and exit")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    root = args.root.resolve()
    files = [f.resolve() for f in args.files] or default_files(root)
    return run(files, root)


if __name__ == "__main__":
    sys.exit(main())
