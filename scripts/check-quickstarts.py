#!/usr/bin/env python3
"""Extracts the README's quickstarts and runs them, so they can never rot.

A quickstart is a fenced code block right after a marker line ``<!-- quickstart: LANG -->``
(LANG is c, cpp, python or sh; the Rust quickstart is a doctest: rpcx-core includes README.md
under cfg(doctest)). Each is written to a temp dir, built against target/debug/librpcx.so,
include/rpcx.h and bindings/cpp/rpcx.hpp (C, C++), run with the given Python (the venv
holding the installed package), or run by `bash -euo pipefail` from the repository root with
PORT set to a free TCP port (sh), and must exit 0 within 60 s (sh: 600 s, it may build).

    scripts/check-quickstarts.py README.md --python build/py-venv/bin/python
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
MARKER = re.compile(r"^<!--\s*quickstart:\s*(\w+)\s*-->\s*$")
FENCE = re.compile(r"^```")


def blocks(path):
    """Yields (lang, line number, code) for every marked block of the file."""
    lines = open(path, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        i += 1
        if not m:
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not FENCE.match(lines[i]):
            sys.exit(f"{path}:{i}: quickstart marker not followed by a fenced block")
        start = i + 1
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            i += 1
        yield m.group(1), start, "\n".join(lines[start:i]) + "\n"
        i += 1


def run(argv, timeout=120, **kw):
    print("  $ " + " ".join(argv), flush=True)
    subprocess.run(argv, check=True, timeout=timeout, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--python", default=sys.executable)
    a = ap.parse_args()
    lib = os.path.join(ROOT, "target", "debug")
    # The run-time name librpcx.so.<major> (its SONAME) next to cargo's librpcx.so.
    subprocess.run([os.path.join(ROOT, "scripts", "lib", "soname-link.sh"), lib], check=True)
    cflags = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-I" + os.path.join(ROOT, "include")]
    link = ["-L" + lib, "-Wl,-rpath," + lib, "-lrpcx", "-lpthread"]
    seen = {}
    with tempfile.TemporaryDirectory() as tmp:
        for path in a.files:
            for n, (lang, line, code) in enumerate(blocks(path)):
                seen[lang] = seen.get(lang, 0) + 1
                print(f"== quickstart {lang} ({path}:{line})", flush=True)
                base = os.path.join(tmp, f"q{n}")
                if lang == "c":
                    open(base + ".c", "w").write(code)
                    run(["cc", "-std=c11", *cflags, base + ".c", *link, "-o", base])
                    run([base], timeout=60)
                elif lang == "cpp":
                    open(base + ".cpp", "w").write(code)
                    run(["c++", "-std=c++17", *cflags, "-I" + os.path.join(ROOT, "bindings", "cpp"),
                         base + ".cpp", *link, "-o", base])
                    run([base], timeout=60)
                elif lang == "python":
                    open(base + ".py", "w").write(code)
                    run([a.python, base + ".py"], timeout=60)
                elif lang == "sh":
                    open(base + ".sh", "w").write(code)
                    env = dict(os.environ, PORT=str(free_port()))
                    run(["bash", "-euo", "pipefail", base + ".sh"], timeout=600, cwd=ROOT, env=env)
                else:
                    sys.exit(f"{path}:{line}: unknown quickstart language {lang!r}")
    for want in ("c", "cpp", "python"):
        if not seen.get(want):
            sys.exit(f"no {want} quickstart found in {a.files}")
    print("quickstarts ok: " + ", ".join(f"{k} x{v}" for k, v in sorted(seen.items())))


if __name__ == "__main__":
    main()
