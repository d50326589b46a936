"""XClient from Python: discovery, a custom selector, failover, broadcast and fork.

    python examples/python/xclient.py
    python examples/python/xclient.py --etcd http://127.0.0.1:2379 [--base-path /rpcx_test]

Without ``--etcd`` it starts three Arith servers in this process (metadata ``zone=a``,
``zone=a``, ``zone=b``) and lists them in a ``MultipleServers`` discovery. With ``--etcd`` it
finds the ``Arith`` servers registered under the base path (Rust ``arith_server --etcd``, a
C server with ``rpcx_server_add_etcd_registry``, or Go servers with the rpcx-etcd plugin).

The custom selector prefers zone ``a`` and takes those servers in turn; one of them is
stopped half way and Failover retries its calls elsewhere, so none fails.
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Optional

import rpcx


def arith_server(zone: str) -> rpcx.Server:
    server = rpcx.Server(workers=2)

    @server.register("Arith.Mul")
    def mul(args: dict, ctx: rpcx.Context) -> dict:
        ctx.set_reply_meta("zone", zone)
        return {"C": args["A"] * args["B"]}

    @server.register("Arith.Add")
    def add(args: dict) -> dict:
        return {"C": args["A"] + args["B"]}

    server.start("tcp@127.0.0.1:0")
    return server


class PreferZone:
    """A selector: any callable ``(servers, request) -> address``."""

    def __init__(self, zone: str, metadata: dict[str, str]) -> None:
        self.zone = zone
        self.metadata = metadata  # address -> metadata query string
        self.turn = itertools.count()

    def __call__(self, servers: list[str], request: rpcx.SelectRequest) -> Optional[str]:
        mine = [s for s in servers if f"zone={self.zone}" in self.metadata.get(s, "")]
        pool = mine or servers
        if not pool:
            return None
        choice = pool[next(self.turn) % len(pool)]
        print(f"  selector -> {choice} for {request.service}.{request.method}")
        return choice


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--etcd", help="comma-separated etcd endpoints")
    ap.add_argument("--base-path", default="/rpcx_test")
    a = ap.parse_args()

    servers: list[rpcx.Server] = []
    discovery: rpcx.MultipleServers | rpcx.Etcd
    if a.etcd:
        discovery = rpcx.Etcd(a.etcd.split(","), a.base_path, "Arith")
    else:
        entries = []
        for zone in ("a", "a", "b"):
            s = arith_server(zone)
            servers.append(s)
            entries.append((s.address, f"zone={zone}"))
            print(f"server {s.address} (zone={zone})")
        discovery = rpcx.MultipleServers(entries)

    with rpcx.XClient("Arith", discovery, timeout=5, fail_mode=rpcx.FailMode.FAILOVER,
                      retries=3, serializer=rpcx.JSON) as xc:
        xc_meta = dict(xc.servers)
        selecting = rpcx.XClient("Arith", discovery, timeout=5, retries=3,
                                 selector=PreferZone("a", xc_meta), serializer=rpcx.JSON)
        failed = 0
        for i in range(1, 11):
            if i == 6 and servers:
                print(f"-- stopping {servers[0].address}")
                servers[0].stop(grace=0)
            try:
                reply, meta = selecting.call_with_metadata("Mul", {"A": i, "B": i})
                print(f"Arith.Mul({i}, {i}) = {reply['C']} (zone {meta.get('zone', '?')})")
            except rpcx.RpcError as e:
                failed += 1
                print(f"Arith.Mul({i}, {i}) failed: {e}")
        selecting.close()

        if servers:  # a registry would drop the stopped server; the static list is told
            discovery.update([(s.address, f"zone={z}") for s, z in zip(servers[1:], "ab")])
            time.sleep(0.1)  # XClients apply discovery changes in the background
        print("broadcast Arith.Add(2, 3) =", xc.broadcast("Add", {"A": 2, "B": 3}))
        print("fork Arith.Add(2, 3) =", xc.fork("Add", {"A": 2, "B": 3}))

    for s in servers:
        s.stop()
    if failed:
        raise SystemExit(f"{failed} calls failed")


if __name__ == "__main__":
    main()
