"""The due-list benchmark's alternating turns (bench.due_list.alternating) and the
harness's pooling of fixed-rate runs (bench.harness.summarise): the handler floor and the
API share every round, in alternating order, and each one's figures are over all of its
requests. No timing is asserted: the fake server counts requests, not seconds."""

from __future__ import annotations

from bench.due_list import alternating
from bench.harness import Samples, summarise


class CountingServer:
    """Spends one 'CPU second' per request it answers."""

    def __init__(self) -> None:
        self.answered = 0

    def cpu(self) -> float:
        return float(self.answered)


async def test_the_cases_alternate_and_their_requests_are_pooled() -> None:
    order: list[str] = []
    handler, api = CountingServer(), CountingServer()

    def call(name: str, server: CountingServer):
        async def one(i: int) -> bool:
            if i == 0:  # the first measured request of a turn
                order.append(name)
            server.answered += 1
            return True

        return one

    results = await alternating(
        [
            ("handler", call("handler", handler), handler),
            ("api", call("api", api), api),
            ("sql", call("sql", CountingServer()), None),
        ],
        rate=4000,
        seconds=0.02,
        rounds=4,
    )
    assert order == ["handler", "api", "sql", "sql", "api", "handler"] * 2
    for name, server in (("handler", handler), ("api", api)):
        latency, cpu = results[name]
        assert latency.count == 4 * 20  # 4000 req/s for a quarter of 0.02 s, four times
        assert server.answered == 4 * (20 + 20)  # and 20 warm-ups a turn
        assert cpu == 1000.0  # one CPU second a request sent, warm-ups included
    assert results["sql"][1] is None  # no server, no CPU figure


def test_summarise_pools_the_runs() -> None:
    runs = [
        Samples([float(i) for i in range(1, 51)], 1, 50, 70, 0.5),
        Samples([float(i) for i in range(51, 101)], 2, 50, 70, 1.5),
    ]
    pooled = summarise("case", runs)
    assert (pooled.count, pooled.errors) == (100, 3)
    assert pooled.p50_ms == 50.5 and pooled.p99_ms >= 99.0
    assert pooled.achieved_rate == 50.0  # 100 requests over 2 s of runs
