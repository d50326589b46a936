"""Server metrics: calls, errors and latency per method, as numbers and Prometheus text."""

from __future__ import annotations

import math

import pytest

import rpcx


def test_metrics_count_calls_errors_and_latency() -> None:
    server = rpcx.Server(metrics=True, workers=2)

    @server.register("Arith.Mul")
    def mul(args: dict) -> dict:
        return {"C": args["A"] * args["B"]}

    @server.register("Arith.Div")
    def div(args: dict) -> dict:
        return {"C": args["A"] // args["B"]}

    with server:
        server.start()
        with rpcx.Client(server.address) as c:
            for i in range(5):
                assert c.call("Arith", "Mul", {"A": i, "B": 2}) == {"C": 2 * i}
            assert c.call("Arith", "Div", {"A": 6, "B": 3}) == {"C": 2}
            with pytest.raises(rpcx.ServiceError, match="by zero"):
                c.call("Arith", "Div", {"A": 1, "B": 0})

        stats = {(s.service, s.method): s for s in server.metrics()}
        mul_stats, div_stats = stats[("Arith", "Mul")], stats[("Arith", "Div")]
        assert (mul_stats.calls, mul_stats.errors) == (5, 0)
        assert (div_stats.calls, div_stats.errors) == (2, 1)
        assert mul_stats.latency_sum_seconds > 0
        bounds = [b for b, _ in mul_stats.latency_buckets]
        counts = [n for _, n in mul_stats.latency_buckets]
        assert bounds == sorted(bounds) and math.isinf(bounds[-1])
        assert counts == sorted(counts) and counts[-1] == 5  # cumulative

        text = server.metrics_text()
        assert 'rpcx_server_calls_total{service="Arith",method="Mul"} 5' in text
        assert 'rpcx_server_errors_total{service="Arith",method="Div"} 1' in text
        assert 'rpcx_server_call_duration_seconds_bucket{service="Arith",method="Div",le="+Inf"} 2' in text


def test_metrics_off_or_not_started() -> None:
    server = rpcx.Server()
    server.register("Echo.Echo", lambda a: a)
    with pytest.raises(RuntimeError):
        server.metrics_text()  # not started
    with server:
        server.start()
        with pytest.raises(RuntimeError, match="metrics=True"):
            server.metrics_text()
        with pytest.raises(RuntimeError, match="metrics=True"):
            server.metrics()
