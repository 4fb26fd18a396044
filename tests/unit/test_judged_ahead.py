"""The consumer's judging ahead without a broker or a database: after a batch that did
not commit as judged, the next one is judged again and the one after is judged ahead."""

from __future__ import annotations

from equipment.services import ingest
from ingest_mqtt import consumer as consumer_module
from ingest_mqtt.consumer import Batch, Consumer
from sereg.settings import get_settings


class FakeLink:
    async def next_batch(self, max_items, wait_s, idle_s):
        return ["delivery"]


async def test_after_a_batch_not_committed_as_judged_judging_ahead_resumes(monkeypatch) -> None:
    consumer = Consumer(get_settings(), link=FakeLink())
    overlays: list[dict] = []

    async def judge_fills(items, *, context, overlay):
        overlays.append(dict(overlay))
        return ingest.JudgedFills(latest={7: f"fill {len(overlays)}"})

    commits = iter([False, True])  # the first batch needed a retry; the next did not

    async def commit(batch: Batch) -> bool:
        return next(commits)

    monkeypatch.setattr(consumer_module.ingest, "judge_fills", judge_fills)
    monkeypatch.setattr(consumer, "_decode", lambda deliveries: [])
    monkeypatch.setattr(consumer, "_commit", commit)

    first = Batch(["delivery"], [], ingest.JudgedFills(latest={7: "fill 0"}))
    second = await consumer._commit_then_next(first, overlap=True)
    # Judged over the first batch's fills, which did not stand: judged again over the
    # register alone, once the first batch was done.
    assert overlays == [{7: "fill 0"}, {}]
    assert second is not None and second.judged is not None
    third = await consumer._commit_then_next(second, overlap=True)
    # The second batch committed as judged: the third is judged ahead over its fills.
    assert overlays[-1] == {7: "fill 2"}
    assert third is not None and third.judged is not None
