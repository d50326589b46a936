"""Server push from Python: a handler subscribes the caller's connection, and the server
pushes ticks to it later, as Go's ``server.SendMessage`` does; the client reads them with
``recv_push`` (blocking) or ``async for push in client.pushes()``.

    python examples/python/push.py
"""

from __future__ import annotations

import threading
import time

import rpcx


def main() -> None:
    server = rpcx.Server(workers=2)

    @server.register("Clock.Subscribe")
    def subscribe(args: dict, ctx: rpcx.Context) -> str:
        count = int(args.get("count", 3))

        def tick() -> None:  # pushes from another thread, after the reply
            for i in range(count):
                time.sleep(0.05)
                ctx.push("Clock", "Tick", f"tick {i}".encode(), {"n": str(i)})

        threading.Thread(target=tick, daemon=True).start()
        return "subscribed"

    with server:
        server.start()
        with rpcx.Client(server.address) as client:
            print("Clock.Subscribe ->", client.call("Clock", "Subscribe", {"count": 3}))
            for _ in range(3):
                push = client.recv_push(timeout=5)
                assert push is not None, "no push within 5 s"
                print(f"push {push.service}.{push.method} n={push.metadata['n']}: "
                      f"{push.payload.decode()}")


if __name__ == "__main__":
    main()
