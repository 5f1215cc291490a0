"""A project's `compose logs`, as the CLI runs it for a client: the command line for it, and
an asyncio process whose lines a WebSocket is sent, ended when that client goes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from watchdocker.stacks.compose_cli import ComposeCli
from watchdocker.stacks.operations import target_of
from watchdocker.stacks.projects import Stack

END_SECONDS = 5.0  # a `logs -f` given SIGTERM ends at once; one that does not is killed
LINE_LIMIT = 1024 * 1024  # the longest log line read whole (asyncio's default is 64 KiB)


def logs_argv(cli: ComposeCli, stack: Stack, follow: bool, tail: int | None) -> list[str]:
    args = ["logs", "--no-color"]
    if follow:
        args.append("-f")
    if tail is not None:
        args += ["--tail", str(tail)]
    return cli.argv(target_of(stack), *args)


@contextlib.asynccontextmanager
async def followed_logs(
    cli: ComposeCli, stack: Stack, tail: int | None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`compose logs -f` of the project, its stderr folded into stdout; ended (and reaped)
    when the block ends, however it ends."""
    process = await asyncio.create_subprocess_exec(
        *logs_argv(cli, stack, follow=True, tail=tail),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=cli.env,
        cwd=target_of(stack).cwd,
        start_new_session=True,  # a signal to the API's process group is not its own
        limit=LINE_LIMIT,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), END_SECONDS)
            except TimeoutError:
                process.kill()
                await process.wait()
