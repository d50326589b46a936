#!/usr/bin/env python3
"""Compiles every ```c code block of a Markdown page (docs/c-api.md), so its examples can
never rot: each block, after the C standard headers the examples use and rpcx.h, must be a
valid C11 translation unit (functions, declarations) under -Wall -Wextra -Werror -pedantic.
Blocks are compiled only (-fsyntax-only), not linked or run. Run by CTest (tests/c).

    scripts/check-doc-snippets.py [--cc cc] -I include docs/c-api.md
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

PRELUDE = """#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpcx.h"
"""


def c_blocks(path):
    """Yields (line number, code) for every ```c fenced block of the file."""
    lines = open(path, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        if re.match(r"^```c\s*$", lines[i]):
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
            yield start + 1, "\n".join(lines[start:i]) + "\n"
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    ap.add_argument("-I", dest="include", action="append", default=[])
    a = ap.parse_args()
    flags = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"]
    flags += ["-I" + d for d in a.include]
    count, failed = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for path in a.files:
            for line, code in c_blocks(path):
                count += 1
                src = os.path.join(tmp, f"snippet{count}.c")
                with open(src, "w", encoding="utf-8") as f:
                    # Compiler messages point at the Markdown file's lines.
                    f.write(PRELUDE + f'#line {line} "{path}"\n' + code)
                r = subprocess.run([a.cc, *flags, src], capture_output=True, text=True)
                if r.returncode != 0:
                    failed += 1
                    print(f"== {path}:{line}: the example does not compile\n{r.stderr}",
                          file=sys.stderr)
    if count == 0:
        sys.exit(f"no ```c blocks in {a.files}")
    if failed:
        sys.exit(f"{failed} of {count} C examples do not compile")
    print(f"doc snippets ok: {count} C examples compile")


if __name__ == "__main__":
    main()
