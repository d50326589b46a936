"""A UDP DNS responder for one name, enough for rpcx's DNS discovery: used by the Python tests
(in process) and, run as a program, by the C tests (tests/c/with_dns.sh). Standard library
only; DNS packets are built by hand (question echoed, A/AAAA answers with TTL 0).

What it answers for its name: the current addresses (A for IPv4, AAAA for IPv6; none means
NOERROR without answer), or ``servfail``, ``nxdomain`` or ``silent`` (no answer at all).
Other names get NXDOMAIN.

    python3 fake_dns.py NAME RECORDS_FILE
        prints "LISTENING 127.0.0.1:<port>", serves until stdin closes; reads RECORDS_FILE at
        each query: one address per line, or one of the words servfail / nxdomain / silent
        (a missing file: nxdomain); writes the number of queries so far to
        RECORDS_FILE.queries
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import sys
import threading
from typing import Callable, Optional, Sequence, Union

Mode = Union[Sequence[str], str]


def _reply(query: bytes, name: str, mode: Mode) -> Optional[bytes]:
    """The answer to ``query``; None to stay silent or for a packet that is not a query."""
    if len(query) < 12 or query[2] & 0x80 or struct.unpack("!H", query[4:6])[0] != 1:
        return None
    i, labels = 12, []
    while True:
        if i >= len(query):
            return None
        n = query[i]
        i += 1
        if n == 0:
            break
        labels.append(query[i : i + n].decode("ascii", "replace").lower())
        i += n
    if i + 4 > len(query):
        return None
    qtype = struct.unpack("!H", query[i : i + 2])[0]
    question = query[12 : i + 4]
    ours = ".".join(labels) == name.lower().rstrip(".")
    addresses: list[str] = []
    if not ours or mode == "nxdomain":
        rcode = 3
    elif mode == "silent":
        return None
    elif mode == "servfail":
        rcode = 2
    else:
        rcode = 0
        addresses = list(mode)
    answers = b""
    count = 0
    for a in addresses:
        ip = ipaddress.ip_address(a)
        if (qtype, ip.version) in ((1, 4), (28, 6)):
            rdata = ip.packed
            answers += struct.pack("!HHHIH", 0xC00C, qtype, 1, 0, len(rdata)) + rdata
            count += 1
    flags = struct.pack("!BB", 0x84 | (query[2] & 0x01), 0x80 | rcode)
    return query[0:2] + flags + struct.pack("!HHHH", 1, count, 0, 0) + question + answers


class FakeDns:
    """Answers queries for ``name`` on a free UDP port of 127.0.0.1 (``addr``) from a thread.
    ``mode`` is the list of addresses to answer with, or ``"servfail"``, ``"nxdomain"`` or
    ``"silent"``; ``source`` (when given) is called at each query instead and returns one."""

    def __init__(
        self,
        name: str = "svc.rpcx.test",
        mode: Mode = "nxdomain",
        source: Optional[Callable[[], Mode]] = None,
    ) -> None:
        self.name = name
        self.mode: Mode = mode
        self.source = source
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.addr = "%s:%d" % self.sock.getsockname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-dns", daemon=True)
        self._thread.start()

    def set(self, mode: Mode) -> None:
        """Answers with ``mode`` from now on."""
        self.mode = mode

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(1500)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            mode = self.source() if self.source else self.mode
            out = _reply(data, self.name, mode)
            if out is not None:
                try:
                    self.sock.sendto(out, peer)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()

    def __enter__(self) -> "FakeDns":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _from_file(path: str) -> Callable[[], Mode]:
    def read() -> Mode:
        try:
            with open(path, encoding="utf-8") as f:
                lines = [line.strip() for line in f if line.strip()]
        except OSError:
            return "nxdomain"
        if len(lines) == 1 and lines[0] in ("servfail", "nxdomain", "silent"):
            return lines[0]
        return lines

    return read


def main() -> None:
    name, records = sys.argv[1], sys.argv[2]
    read = _from_file(records)
    asked = [0]

    def source() -> Mode:
        mode = read()
        asked[0] += 1
        tmp = records + ".queries.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("%d\n" % asked[0])
        os.replace(tmp, records + ".queries")
        return mode

    dns = FakeDns(name, source=source)
    print("LISTENING", dns.addr, flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    dns.close()


if __name__ == "__main__":
    main()
