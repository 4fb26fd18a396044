"""What other requests of the process get while a long piece of work runs on its loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


@asynccontextmanager
async def other_work(events: list[str]) -> AsyncIterator[None]:
    """Note "other" in ``events`` on every turn the event loop gives others in the block."""
    done = False

    async def turns() -> None:
        while not done:
            events.append("other")
            await asyncio.sleep(0)

    task = asyncio.ensure_future(turns())
    await asyncio.sleep(0)  # it has started
    try:
        yield
    finally:
        done = True
        await task
