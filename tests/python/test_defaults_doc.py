"""docs/defaults.md states the defaults of every binding. These tests read the page and check
the C, C++, Python and CLI columns against what each binding really does (the Rust column is
rpcx-core/tests/defaults_doc.rs). Where a binding has no accessor for a default, the test
observes it: a server handler reports the timeout and serialize type a default client sent."""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import rpcx
from conftest import REPO, _cargo

PAGE = (REPO / "docs" / "defaults.md").read_text(encoding="utf-8")


def cell(section: str, key: str, column: str) -> str:
    """The value part (before ' — ') of `column` in the row `key` of the table under
    '## section'."""
    start = PAGE.index(f"\n## {section}\n")
    body = PAGE[start + 1:]
    end = body.find("\n## ", 3)
    body = body if end < 0 else body[:end]
    rows = [[c.strip() for c in line.strip("|").split(" | ")]
            for line in body.splitlines() if line.startswith("|")]
    col = rows[0].index(column)
    for row in rows:
        if row[0] == f"`{key}`":
            return row[col].split(" — ")[0].strip()
    raise AssertionError(f"no row `{key}` in {section}")


def size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return str(n)


def seconds(t: float | None) -> str:
    return "none" if t is None else f"{t:g} s"


CODECS = {0: "raw", 1: "JSON", 2: "Protobuf", 3: "MsgPack"}


def test_python_client_defaults_match_the_page() -> None:
    params = inspect.signature(rpcx.Client.__init__).parameters
    default = {name: p.default for name, p in params.items()}
    assert cell("Client", "codec", "Python") == CODECS[int(default["serializer"])]
    assert cell("Client", "call_timeout", "Python") == seconds(default["timeout"])
    assert cell("Client", "connect_timeout", "Python") == seconds(default["connect_timeout"])
    assert cell("Client", "heartbeat", "Python") == ("off" if default["heartbeat"] is None else "on")
    assert cell("Client", "heartbeat_timeout", "Python") == seconds(default["heartbeat_timeout"])
    assert default["gzip"] is False and default["compress"] is None
    assert cell("Client", "compression", "Python") == "none"
    assert cell("Client", "compress_threshold", "Python") == size(default["compress_threshold"])
    # AsyncClient takes the same options with the same defaults.
    aparams = inspect.signature(rpcx.AsyncClient.__init__).parameters
    for name in ("serializer", "timeout", "connect_timeout", "heartbeat", "compress_threshold"):
        assert aparams[name].default == default[name], name
    limits = rpcx.Limits()
    assert cell("Client", "frame_limit", "Python") == size(limits.max_frame_len)
    assert cell("Client", "decompressed_limit", "Python") == size(limits.max_decompressed_len)
    assert cell("Client", "metadata_entries", "Python") == str(limits.max_metadata_entries)
    assert cell("Client", "metadata_bytes", "Python") == size(limits.max_metadata_bytes)
    # The Python defaults are the core's (the Rust column, checked by defaults_doc.rs).
    for key in ("frame_limit", "decompressed_limit", "metadata_entries", "metadata_bytes",
                "connect_timeout", "heartbeat_timeout", "unsent_bytes"):
        assert cell("Client", key, "Python") == cell("Client", key, "Rust"), key


def test_python_default_call_sends_no_timeout_and_msgpack() -> None:
    """Observed on the wire: a default client's call carries no deadline and is MsgPack."""
    server = rpcx.Server()

    @server.register("D.Probe")
    def probe(args: object, ctx: rpcx.Context) -> dict[str, object]:
        return {"remaining": ctx.remaining(), "st": ctx.serialize_type}

    port = server.start("tcp@127.0.0.1:0")
    try:
        with rpcx.Client(f"tcp@127.0.0.1:{port}") as c:
            got = c.call("D", "Probe", {}, timeout=None)
        assert got == {"remaining": None, "st": 3}
        assert cell("Client", "call_timeout", "Python") == "none"
        assert cell("Client", "codec", "Python") == CODECS[got["st"]]
    finally:
        server.stop(grace=1.0)


def test_python_server_defaults_match_the_page() -> None:
    want = min(32, (os.cpu_count() or 1) + 4)
    assert cell("Server", "workers", "Python") == "min(32, CPUs + 4)"
    s = rpcx.Server()
    assert s._workers == want  # the pool size the page's formula gives on this machine
    params = inspect.signature(rpcx.Server.__init__).parameters
    for name in ("limits", "max_connections", "max_inflight_per_conn", "idle_timeout"):
        # None: the core's default, which the page gives in the Rust column.
        assert params[name].default is None, name
    for key in ("frame_limit", "inflight_per_conn", "connections", "idle_timeout"):
        assert cell("Server", key, "Python") == cell("Server", key, "Rust"), key


C_PROBE = r"""
#include <stdio.h>
#include <string.h>
#include <rpcx.h>

static void probe(void *userdata, const rpcx_request *req, rpcx_responder *resp) {
    char out[64];
    (void)userdata;
    int n = snprintf(out, sizeof out, "%lld %u", (long long)rpcx_request_timeout_ms(req),
                     (unsigned)rpcx_request_serialize_type(req));
    rpcx_responder_reply(resp, (const uint8_t *)out, (size_t)n, NULL);
}

int main(void) {
    rpcx_server *server = NULL;
    rpcx_client *client = NULL;
    rpcx_error *err = NULL;
    rpcx_buf reply = {NULL, 0, NULL};
    rpcx_limits limits;
    uint16_t port = 0;
    char addr[64];
    if (rpcx_limits_init(&limits, sizeof limits) != RPCX_OK) return 1;
    printf("limits %llu %llu %llu %llu\n", (unsigned long long)limits.max_frame_len,
           (unsigned long long)limits.max_decompressed_len,
           (unsigned long long)limits.max_metadata_entries,
           (unsigned long long)limits.max_metadata_bytes);
    if (rpcx_server_new(NULL, &server) != RPCX_OK ||
        rpcx_server_register(server, "D", "Probe", probe, NULL, NULL) != RPCX_OK ||
        rpcx_server_start(server, "tcp@127.0.0.1:0", &port, &err) != RPCX_OK) return 2;
    snprintf(addr, sizeof addr, "tcp@127.0.0.1:%u", (unsigned)port);
    /* NULL options: the defaults; timeout_ms 0: the client's default. */
    if (rpcx_client_connect(addr, NULL, &client, &err) != RPCX_OK ||
        rpcx_client_call(client, "D", "Probe", (const uint8_t *)"", 0, NULL, 0, &reply, NULL,
                         &err) != RPCX_OK) {
        fprintf(stderr, "%s\n", rpcx_error_message(err, NULL));
        return 3;
    }
    printf("call %.*s\n", (int)reply.len, (const char *)reply.data);
    rpcx_buf_free(&reply);
    rpcx_client_free(client);
    rpcx_server_shutdown(server, 1000);
    rpcx_server_free(server);
    return 0;
}
"""

CPP_PROBE = r"""
#include <iostream>
#include <string>
#include "rpcx.hpp"

int main() {
    rpcx::Limits limits;
    std::cout << "limits " << limits.max_frame_len << " " << limits.max_decompressed_len << " "
              << limits.max_metadata_entries << " " << limits.max_metadata_bytes << "\n";
    rpcx::Server server;
    server.handle("D", "Probe", [](const rpcx::Request& req, rpcx::Responder resp) {
        auto t = req.timeout();
        resp.reply((t ? std::to_string(t->count()) : std::string("-1")) + " " +
                   std::to_string(req.serialize_type()));
    });
    auto port = server.start("tcp@127.0.0.1:0");
    auto client = rpcx::Client::connect("tcp@127.0.0.1:" + std::to_string(port));
    rpcx::Response r = client.call("D", "Probe", "");
    std::cout << "call " << r.text() << "\n";
    server.shutdown(std::chrono::milliseconds(1000));
    return 0;
}
"""


@pytest.fixture(scope="module")
def libdir() -> Path:
    if shutil.which("cc") is None or shutil.which("c++") is None:
        pytest.skip("no C/C++ compiler")
    cargo = _cargo()
    if cargo is None:
        pytest.skip("cargo not found: librpcx cannot be built")
    built = subprocess.run([cargo, "build", "-q", "-p", "rpcx-ffi"], cwd=REPO,
                           capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, f"cargo build -p rpcx-ffi failed:\n{built.stderr[-4000:]}"
    lib = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug"
    subprocess.run([str(REPO / "scripts/lib/soname-link.sh"), str(lib)], check=True, timeout=60)
    return lib


def _run_probe(tmp: Path, libdir: Path, compiler: list[str], source: str, name: str) -> dict[str, list[int]]:
    src = tmp / name
    src.write_text(source)
    exe = tmp / (name + ".out")
    built = subprocess.run(
        [*compiler, str(src), f"-I{REPO / 'include'}", f"-I{REPO / 'bindings' / 'cpp'}",
         f"-L{libdir}", "-lrpcx", f"-Wl,-rpath,{libdir}", "-o", str(exe)],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    out: dict[str, list[int]] = {}
    for line in run.stdout.splitlines():
        head, *values = line.split()
        out[head] = [int(v) for v in values]
    return out


def _check_c_like(column: str, out: dict[str, list[int]]) -> None:
    frame, decompressed, entries, meta_bytes = out["limits"]
    assert cell("Client", "frame_limit", column) == size(frame)
    assert cell("Client", "decompressed_limit", column) == size(decompressed)
    assert cell("Client", "metadata_entries", column) == str(entries)
    assert cell("Client", "metadata_bytes", column) == size(meta_bytes)
    timeout_ms, st = out["call"]
    assert timeout_ms == -1, "a default call sent a deadline"
    assert cell("Client", "call_timeout", column) == "none"
    assert cell("Client", "codec", column) == CODECS[st]


def test_c_defaults_match_the_page(tmp_path: Path, libdir: Path) -> None:
    out = _run_probe(tmp_path, libdir, ["cc", "-std=c11", "-Wall", "-Werror"], C_PROBE, "probe.c")
    _check_c_like("C", out)


def test_cpp_defaults_match_the_page(tmp_path: Path, libdir: Path) -> None:
    out = _run_probe(tmp_path, libdir, ["c++", "-std=c++17", "-Wall", "-Werror"], CPP_PROBE,
                     "probe.cpp")
    _check_c_like("C++", out)


def test_cli_defaults_match_the_page() -> None:
    cargo = _cargo()
    if cargo is None:
        pytest.skip("cargo not found: cannot build the rpcx CLI")
    built = subprocess.run([cargo, "build", "-q", "-p", "rpcx-cli"], cwd=REPO,
                           capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, f"cargo build -p rpcx-cli failed:\n{built.stderr[-4000:]}"
    exe = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "rpcx"
    help_text = subprocess.run([str(exe), "call", "--help"], capture_output=True, text=True,
                               timeout=60).stdout

    # One block per option: from its `  --flag` line to the next option's.
    blocks = re.split(r"\n(?=\s{2,6}(?:-\w, )?--[\w-]+)", help_text)

    def flag_default(flag: str) -> str:
        for block in blocks:
            if re.match(rf"\s*(?:-\w, )?--{flag}\b", block):
                m = re.search(r"\[default: ([^\]]+)\]", block)
                assert m, f"--{flag} shows no default in `rpcx call --help`:\n{block}"
                return m.group(1)
        raise AssertionError(f"no --{flag} in `rpcx call --help`:\n{help_text}")

    assert cell("Client", "call_timeout", "CLI") == seconds(float(flag_default("timeout")))
    assert cell("Client", "codec", "CLI") == {"json": "JSON", "msgpack": "MsgPack",
                                              "raw": "raw"}[flag_default("codec")]
    assert cell("Client", "compress_threshold", "CLI") == size(int(flag_default("compress-threshold")))
    assert cell("Client", "compression", "CLI") == flag_default("compress")
