"""The Python examples run and exit 0 (so they cannot rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


@pytest.mark.parametrize("name", ["xclient.py", "push.py"])
def test_example_runs(name: str) -> None:
    r = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"{name} failed:\n{r.stdout}\n{r.stderr}"
    assert r.stdout.strip(), f"{name} printed nothing"


def _build_c_arith_server(out_dir: Path) -> Path:
    """Builds examples/c/arith_server.c against target/debug/librpcx.so (skips without cc)."""
    import os
    import shutil

    from conftest import REPO, _cargo

    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no C compiler: the C server cannot be built")
    cargo = _cargo()
    if cargo is None:
        pytest.skip("cargo not found: librpcx cannot be built")
    built = subprocess.run([cargo, "build", "-q", "-p", "rpcx-ffi"], cwd=REPO, capture_output=True,
                           text=True, timeout=1800)
    assert built.returncode == 0, f"cargo build -p rpcx-ffi failed:\n{built.stderr[-4000:]}"
    libdir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug"
    subprocess.run([str(REPO / "scripts/lib/soname-link.sh"), str(libdir)], check=True, timeout=60)
    exe = out_dir / "arith_server"
    # The build line of the example's comment, with the library of this checkout.
    compiled = subprocess.run(
        [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", str(REPO / "examples/c/arith_server.c"),
         f"-I{REPO / 'include'}", f"-L{libdir}", "-lrpcx", f"-Wl,-rpath,{libdir}", "-pthread",
         "-o", str(exe)],
        capture_output=True, text=True, timeout=300,
    )
    assert compiled.returncode == 0, f"cc examples/c/arith_server.c failed:\n{compiled.stderr}"
    return exe


def _listening(proc: "subprocess.Popen[str]") -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line.startswith("LISTENING "), line
    return line.split(" ", 1)[1]


def test_python_client_against_the_c_server(tmp_path: Path) -> None:
    """examples/python/arith_client.py against examples/c/arith_server.c (JSON on both sides),
    the server started with no stdin to watch and stopped by SIGTERM, as a user would."""
    import signal

    exe = _build_c_arith_server(tmp_path)
    usage = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=30)
    assert usage.returncode == 0
    for method in ("Arith.Mul", "Arith.Add", "Arith.Div", "Arith.Meta", "Arith.Push"):
        assert method in usage.stdout, usage.stdout
    proc = subprocess.Popen([str(exe), "tcp@127.0.0.1:0"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        addr = _listening(proc)
        r = subprocess.run([sys.executable, str(EXAMPLES / "arith_client.py"), addr],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"arith_client.py failed:\n{r.stdout}\n{r.stderr}"
        assert "7 * 8 = 56" in r.stdout
        assert "1 / 0 -> server error: divide by zero" in r.stdout
        assert "last = {'C': 198}" in r.stdout
        assert proc.poll() is None, "the C server stopped on its own (stdin is /dev/null)"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert 'rpcx_server_calls_total{service="Arith",method="Mul"} 1' in err, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def test_c_server_stops_when_its_piped_stdin_closes(tmp_path: Path) -> None:
    """Scripts and tests drive the C server through a pipe: closing it stops the server."""
    exe = _build_c_arith_server(tmp_path)
    proc = subprocess.Popen([str(exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        _listening(proc)
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def test_python_client_against_the_python_server() -> None:
    """examples/python/arith_client.py against examples/python/arith_server.py (Ctrl-C stops it)."""
    import signal

    proc = subprocess.Popen([sys.executable, str(EXAMPLES / "arith_server.py"), "tcp@127.0.0.1:0"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        addr = _listening(proc)
        r = subprocess.run([sys.executable, str(EXAMPLES / "arith_client.py"), addr],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, f"arith_client.py failed:\n{r.stdout}\n{r.stderr}"
        assert "7 * 8 = 56" in r.stdout
        assert "divide by zero" in r.stdout
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "stopping; metrics:" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
