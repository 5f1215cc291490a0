"""uvicorn's server, waking once a second while idle instead of ten times.

uvicorn's main loop looks for a stop every 0.1 s; each of serve's two servers in a thread (the
Prefect server, the HTTP API) spent ~0.2% of a core doing only that (bench/idle.py). Once a
second still refreshes the Date header as often as uvicorn does; a stop waits up to a second."""

from __future__ import annotations

import asyncio

import uvicorn

TICK_SECONDS = 1.0


class QuietServer(uvicorn.Server):
    async def main_loop(self) -> None:
        # Tick 0 every time: uvicorn refreshes its Date header on every tenth tick.
        while not await self.on_tick(0):
            await asyncio.sleep(TICK_SECONDS)
