"""TLS and mutual TLS from Python: ``rpcx.TLSConfig`` on Server, Client, AsyncClient,
XClient and AsyncXClient; the refusals (untrusted CA, expired certificate, wrong server
name, missing client certificate) as RpcConnectionError with the TLS reason; TLSConfig's
checks; and the Go interop peers over TLS (a Go server with server.WithTLSConfig called from
Python, the Go client calling a Python TLS server). Certificates: the tls_certs example."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

import rpcx
from conftest import Args, Reply, build_example, build_server
from test_cli import cli  # noqa: F401  (the module-scoped fixture building the CLI)
from test_go import go_bin  # noqa: F401  (the module-scoped fixture building the Go peers)


@pytest.fixture(scope="module")
def pki() -> Iterator[Path]:
    """A fresh test PKI: ca, other-ca, server, expired, client, other-client (.pem/.key)."""
    exe = build_example("tls_certs")
    with tempfile.TemporaryDirectory(prefix="rpcx-py-tls-") as d:
        out = subprocess.run([str(exe), d], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        yield Path(d)


def client_tls(pki: Path, ca: str = "ca.pem", cert: bool = True, **kw: object) -> rpcx.TLSConfig:
    files = dict(cert_file=pki / "client.pem", key_file=pki / "client.key") if cert else {}
    return rpcx.TLSConfig(ca_file=pki / ca, **files, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def mtls_addr(pki: Path) -> Iterator[str]:
    """A Python server requiring client certificates signed by the test CA."""
    tls = rpcx.TLSConfig(
        cert_file=pki / "server.pem",
        key_file=pki / "server.key",
        ca_file=pki / "ca.pem",
        require_client_cert=True,
    )
    server = build_server(tls=tls)
    port = server.start("tcp@127.0.0.1:0")
    yield f"tcp@127.0.0.1:{port}"
    server.stop(grace=1)


@pytest.fixture(scope="module")
def expired_addr(pki: Path) -> Iterator[str]:
    server = build_server(
        tls=rpcx.TLSConfig(cert_file=str(pki / "expired.pem"), key_file=str(pki / "expired.key"))
    )
    port = server.start("tcp@127.0.0.1:0")
    yield f"tcp@127.0.0.1:{port}"
    server.stop(grace=1)


def refused(addr: str, tls: rpcx.TLSConfig) -> str:
    """Connects and calls; returns the RpcConnectionError's text."""
    with pytest.raises(rpcx.RpcConnectionError) as info:
        with rpcx.Client(addr, tls=tls, timeout=10, connect_timeout=10) as c:
            c.call("Arith", "Mul", Args(2, 3))
    return str(info.value)


def test_client_and_async_client_over_mutual_tls(pki: Path, mtls_addr: str) -> None:
    with rpcx.Client(mtls_addr, tls=client_tls(pki), timeout=10, connect_timeout=10) as c:
        assert c.call("Arith", "Mul", Args(7, 8), reply_type=Reply) == Reply(56)
        peer = c.call("Echo", "Meta", {})["peer"]
        assert peer.startswith("tcp@127.0.0.1:")

    async def main() -> None:
        async with rpcx.AsyncClient(mtls_addr, tls=client_tls(pki), timeout=10) as c:
            got = await asyncio.gather(*(c.call("Arith", "Mul", Args(i, 2)) for i in range(20)))
            assert [g["C"] for g in got] == [i * 2 for i in range(20)]

    asyncio.run(main())


def test_xclients_over_mutual_tls(pki: Path, mtls_addr: str) -> None:
    servers = rpcx.MultipleServers([mtls_addr])
    with rpcx.XClient("Arith", servers, tls=client_tls(pki), timeout=10) as xc:
        assert xc.call("Mul", Args(6, 7), reply_type=Reply) == Reply(42)

    async def main() -> None:
        async with rpcx.AsyncXClient("Arith", servers, tls=client_tls(pki), timeout=10) as xc:
            assert await xc.call("Add", Args(1, 2)) == {"C": 3}

    asyncio.run(main())
    # Without a client certificate an XClient's call is refused by the server.
    with rpcx.XClient(
        "Arith", servers, tls=client_tls(pki, cert=False), fail_mode=rpcx.FailMode.FAILFAST
    ) as xc:
        with pytest.raises(rpcx.RpcConnectionError, match="CertificateRequired"):
            xc.call("Mul", Args(1, 1))


def test_refusals_carry_the_tls_reason(pki: Path, mtls_addr: str, expired_addr: str) -> None:
    assert "received fatal alert: CertificateRequired" in refused(mtls_addr, client_tls(pki, cert=False))
    assert "invalid peer certificate: UnknownIssuer" in refused(mtls_addr, client_tls(pki, "other-ca.pem"))
    wrong_name = refused(mtls_addr, client_tls(pki, server_name="wrong.example.com"))
    assert 'certificate not valid for name "wrong.example.com"' in wrong_name
    foreign = rpcx.TLSConfig(
        ca_file=pki / "ca.pem", cert_file=pki / "other-client.pem", key_file=pki / "other-client.key"
    )
    assert "received fatal alert" in refused(mtls_addr, foreign)
    assert "invalid peer certificate: certificate expired" in refused(
        expired_addr, client_tls(pki, cert=False)
    )

    async def async_refusal() -> str:
        with pytest.raises(rpcx.RpcConnectionError) as info:
            async with rpcx.AsyncClient(mtls_addr, tls=client_tls(pki, "other-ca.pem")) as c:
                await c.call("Arith", "Mul", Args(1, 1))
        return str(info.value)

    assert "invalid peer certificate: UnknownIssuer" in asyncio.run(async_refusal())


def test_optional_client_certificates(pki: Path) -> None:
    tls = rpcx.TLSConfig(
        cert_file=pki / "server.pem", key_file=pki / "server.key", ca_file=pki / "ca.pem"
    )
    with build_server(tls=tls) as server:
        addr = f"tcp@127.0.0.1:{server.start('tcp@127.0.0.1:0')}"
        for cfg in (client_tls(pki, cert=False), client_tls(pki)):
            with rpcx.Client(addr, tls=cfg, timeout=10) as c:
                assert c.call("Arith", "Add", Args(2, 2)) == {"C": 4}


def test_tlsconfig_checks_what_it_is_given(pki: Path, tmp_path: Path) -> None:
    cfg = client_tls(pki)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.ca_file = None  # type: ignore[misc]
    assert "client.key" in repr(cfg) and "BEGIN" not in repr(cfg)
    with pytest.raises(FileNotFoundError, match="ca_file '/nonexistent/ca.pem'"):
        rpcx.TLSConfig(ca_file="/nonexistent/ca.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError, match="TLS CA: no CERTIFICATE block found"):
        rpcx.TLSConfig(ca_file=junk)
    with pytest.raises(ValueError, match="TLS private key: no PRIVATE KEY block found"):
        rpcx.TLSConfig(cert_file=pki / "client.pem", key_file=junk)
    with pytest.raises(ValueError, match="TLS client certificate and key"):
        rpcx.TLSConfig(cert_file=pki / "client.pem", key_file=pki / "server.key")
    with pytest.raises(ValueError, match="cert_file and key_file go together"):
        rpcx.TLSConfig(cert_file=pki / "client.pem")
    with pytest.raises(ValueError, match="require_client_cert needs ca_file"):
        rpcx.TLSConfig(cert_file=pki / "server.pem", key_file=pki / "server.key", require_client_cert=True)
    with pytest.raises(ValueError, match="TLS server name"):
        rpcx.TLSConfig(ca_file=pki / "ca.pem", server_name="not a name!")
    with pytest.raises(TypeError, match="ca_file must be a path"):
        rpcx.TLSConfig(ca_file=42)  # type: ignore[arg-type]
    # Settings of the other side are refused where they cannot apply.
    with pytest.raises(ValueError, match="needs cert_file and key_file"):
        rpcx.Server(tls=rpcx.TLSConfig(ca_file=pki / "ca.pem"))
    with pytest.raises(ValueError, match="server_name is a client setting"):
        rpcx.Server(tls=client_tls(pki, server_name="localhost"))
    server_side = rpcx.TLSConfig(
        cert_file=pki / "server.pem", key_file=pki / "server.key", ca_file=pki / "ca.pem",
        require_client_cert=True,
    )
    with pytest.raises(ValueError, match="require_client_cert is a server setting"):
        rpcx.Client("tcp@127.0.0.1:1", tls=server_side)
    with pytest.raises(TypeError, match="tls must be an rpcx.TLSConfig"):
        rpcx.Client("tcp@127.0.0.1:1", tls="ca.pem")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="tls must be an rpcx.TLSConfig"):
        rpcx.Etcd("127.0.0.1:1", "/rpcx_test", "Arith", tls="ca.pem")  # type: ignore[arg-type]


# -- the Go interop peers over TLS ---------------------------------------------------------


@pytest.fixture(scope="module")
def go_tls_server(go_bin: Path, pki: Path) -> Iterator[str]:  # noqa: F811
    """The Go interop server with server.WithTLSConfig, requiring client certificates."""
    proc = subprocess.Popen(
        [
            str(go_bin / "goserver"), "-addr", "tcp@127.0.0.1:0", "-quiet",
            "-tls-cert", str(pki / "server.pem"), "-tls-key", str(pki / "server.key"),
            "-tls-client-ca", str(pki / "ca.pem"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("LISTENING "), line
        yield line.split(" ", 1)[1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_go_tls_server_called_from_python(pki: Path, go_tls_server: str) -> None:
    for ser in (rpcx.MSGPACK, rpcx.JSON):
        with rpcx.Client(go_tls_server, serializer=ser, tls=client_tls(pki), timeout=10) as c:
            assert c.call("Arith", "Mul", Args(7, 8), reply_type=Reply) == Reply(56)
            with pytest.raises(rpcx.ServiceError, match="divide by zero"):
                c.call("Arith", "Div", Args(1, 0))
    assert "received fatal alert: CertificateRequired" in refused(go_tls_server, client_tls(pki, cert=False))
    assert "UnknownIssuer" in refused(go_tls_server, client_tls(pki, "other-ca.pem"))


def test_go_client_calls_a_python_tls_server(go_bin: Path, pki: Path, mtls_addr: str) -> None:  # noqa: F811
    base = [str(go_bin / "goclient"), "-addr", mtls_addr, "-codec", "msgpack", "-cases", "plain"]
    ok = subprocess.run(
        base + ["-tls-ca", str(pki / "ca.pem"), "-tls-cert", str(pki / "client.pem"),
                "-tls-key", str(pki / "client.key")],
        capture_output=True, text=True, timeout=120,
    )
    assert ok.returncode == 0 and "PASS plain" in ok.stdout, ok.stdout + ok.stderr
    # Go's client without a certificate: the Python server's refusal reaches it.
    anonymous = subprocess.run(
        base + ["-tls-ca", str(pki / "ca.pem")], capture_output=True, text=True, timeout=120
    )
    assert anonymous.returncode == 1, anonymous.stdout
    # With TLS 1.3 the refusal is an alert after the client's handshake: Go's client reports
    # it ("certificate required") when it reads the alert before its write fails, else the
    # closed connection in its own words (several, depending on timing); the call failed.
    assert "FAIL plain" in anonymous.stdout and "PASS" not in anonymous.stdout, anonymous.stdout


# -- etcd over mutual TLS ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tls_etcd(pki: Path, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A throwaway etcd serving https and requiring client certificates; yields its URL and
    the etcdctl command line reaching it."""
    exe, ctl = shutil.which("etcd"), shutil.which("etcdctl")
    if exe is None or ctl is None:
        pytest.skip("etcd/etcdctl not installed (scripts/bootstrap-etcd.sh installs them)")
    client, peer = _free_port(), _free_port()
    url, peer_url = f"https://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
    proc = subprocess.Popen(
        [exe, "--name", "pytest-tls", "--data-dir", str(tmp_path / "etcd"),
         "--listen-client-urls", url, "--advertise-client-urls", url,
         "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
         "--initial-cluster", f"pytest-tls={peer_url}",
         "--cert-file", str(pki / "server.pem"), "--key-file", str(pki / "server.key"),
         "--trusted-ca-file", str(pki / "ca.pem"), "--client-cert-auth"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    etcdctl = [ctl, "--endpoints", url, "--cacert", str(pki / "ca.pem"),
               "--cert", str(pki / "client.pem"), "--key", str(pki / "client.key")]
    env = {**os.environ, "ETCDCTL_API": "3"}
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(etcdctl + ["endpoint", "health"], capture_output=True, env=env).returncode:
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the TLS etcd did not become healthy")
            time.sleep(0.2)
        yield url, etcdctl
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_etcd_discovery_over_mutual_tls(
    pki: Path, tls_etcd: tuple[str, list[str]], mtls_addr: str
) -> None:
    url, etcdctl = tls_etcd
    subprocess.run(etcdctl + ["put", f"/rpcx_tls/Arith/{mtls_addr}", "weight=1"], check=True,
                   capture_output=True, env={**os.environ, "ETCDCTL_API": "3"})
    discovery = rpcx.Etcd(url, "/rpcx_tls", "Arith", tls=client_tls(pki))
    assert discovery.servers == [(mtls_addr, "weight=1")]
    with rpcx.XClient("Arith", discovery, tls=client_tls(pki), timeout=10) as xc:
        assert xc.call("Mul", Args(3, 4), reply_type=Reply) == Reply(12)
    discovery.close()
    with pytest.raises(rpcx.RpcConnectionError, match="BadCertificate|CertificateRequired"):
        rpcx.Etcd(url, "/rpcx_tls", "Arith", tls=client_tls(pki, cert=False))
    with pytest.raises(rpcx.RpcConnectionError, match="UnknownIssuer"):
        rpcx.Etcd(url, "/rpcx_tls", "Arith", tls=client_tls(pki, "other-ca.pem"))


def test_server_registers_itself_in_etcd_over_mutual_tls(
    pki: Path, tls_etcd: tuple[str, list[str]], cli: Path  # noqa: F811
) -> None:
    """A Python TLS server publishes itself through rpcx.EtcdRegistry(tls=...) into an etcd
    that requires client certificates; an XClient and the CLI (--registry-tls-* for etcd,
    --tls-* for the server) find it there and call it over mutual TLS; the graceful stop
    deletes its key."""
    url, etcdctl = tls_etcd
    env = {**os.environ, "ETCDCTL_API": "3"}
    server = build_server(
        tls=rpcx.TLSConfig(
            cert_file=pki / "server.pem", key_file=pki / "server.key",
            ca_file=pki / "ca.pem", require_client_cert=True,
        )
    )
    registry = rpcx.EtcdRegistry(url, base_path="/rpcx_reg_tls", tls=client_tls(pki))
    server.add_registry(registry)
    port = server.start("tcp@127.0.0.1:0")
    assert registry.flush(timeout=10)
    key = f"/rpcx_reg_tls/Arith/tcp@127.0.0.1:{port}"
    try:
        listed = subprocess.run(etcdctl + ["get", "--keys-only", key], capture_output=True,
                                text=True, env=env, check=True).stdout
        assert key in listed
        discovery = rpcx.Etcd(url, "/rpcx_reg_tls", "Arith", tls=client_tls(pki))
        assert [a for a, _ in discovery.servers] == [f"tcp@127.0.0.1:{port}"]
        with rpcx.XClient("Arith", discovery, tls=client_tls(pki), timeout=10) as xc:
            assert xc.call("Mul", Args(5, 6), reply_type=Reply) == Reply(30)
        discovery.close()
        pem = {name: str(pki / name) for name in ("ca.pem", "client.pem", "client.key")}
        done = subprocess.run(
            [str(cli), "call", "--etcd", url, "--base-path", "/rpcx_reg_tls",
             "--registry-tls-ca", pem["ca.pem"], "--registry-tls-cert", pem["client.pem"],
             "--registry-tls-key", pem["client.key"], "--tls-ca", pem["ca.pem"],
             "--tls-cert", pem["client.pem"], "--tls-key", pem["client.key"],
             "Arith.Mul", '{"A":5,"B":6}'],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {"C": 30}
    finally:
        server.stop(grace=1)
    listed = subprocess.run(etcdctl + ["get", "--keys-only", key], capture_output=True,
                            text=True, env=env, check=True).stdout
    assert key not in listed
    with pytest.raises(rpcx.RpcConnectionError, match="UnknownIssuer"):
        rpcx.EtcdRegistry(url, base_path="/rpcx_reg_tls", tls=client_tls(pki, "other-ca.pem"))


def test_cli_refuses_bad_tls_settings(pki: Path, cli: Path) -> None:  # noqa: F811
    """The CLI names what is wrong with its TLS settings before dialling anything (exit
    status 6, bad local input; docs/cli.md)."""

    def run(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(cli), "call", *flags, "tcp@127.0.0.1:1", "Arith.Mul", "{}"],
                              capture_output=True, text=True, timeout=60)

    done = run("--tls-ca", "/nonexistent/ca.pem")
    assert done.returncode == 6 and "TLS CA file: /nonexistent/ca.pem" in done.stderr
    done = run("--tls-ca", str(pki / "client.key"))
    assert done.returncode == 6 and "no CERTIFICATE block found" in done.stderr
    done = run("--tls-ca", str(pki / "ca.pem"), "--tls-cert", str(pki / "client.pem"),
               "--tls-key", str(pki / "server.key"))
    assert done.returncode == 6 and "KeyMismatch" in done.stderr
    done = run("--tls-cert", str(pki / "client.pem"))  # a certificate without its key
    assert done.returncode == 2 and "--tls-key" in done.stderr
