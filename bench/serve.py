"""Run the API for a benchmark on a listening TCP socket inherited from the parent process.

uvicorn's own ``--fd`` option wraps the descriptor as a Unix socket, so TCP_NODELAY is never set
and every response waits for the peer's delayed ACK (about 40 ms): the socket is rebuilt here with
its real family instead. Usage: ``python -m bench.serve FD WORKERS``. The application is Identito's API
plus one route of the benchmark's own, ``/_bench/constant``: the floor of the API benchmarks
(production code carries no benchmark hook).

Two switches, read from the environment by each worker, for the benchmarks only:
``IDENTITO_BENCH_SERVER_TIMING=1`` adds a ``Server-Timing: app;dur=<ms>`` header to every response
(time from the request's arrival in the application to the start of its response: the server-side
time of a rendered page), and ``IDENTITO_BENCH_SEARCH=walk`` makes the identity search use the
statement it used before the key-head indexes (an A/B in the same run, bench/ui.py).
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess


class ServerTiming:
    """Pure ASGI middleware: the application's own time of each response, as a Server-Timing header."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                spent = f"app;dur={(time.perf_counter() - started) * 1000.0:.3f}".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", spent)]}
            await send(message)

        await self.app(scope, receive, timed)


def create_bench_app() -> FastAPI:
    """Identito's API (settings from the environment, served as ``identito serve`` serves it) with the
    benchmark's bare endpoint."""
    from app.db import identity_queries
    from app.main import create_served_app

    if os.environ.get("IDENTITO_BENCH_SEARCH") == "walk":
        identity_queries.search_statement = functools.partial(  # type: ignore[assignment]
            identity_queries.search_statement, by_key_head=False)
    app = create_served_app()  # as ``identito serve`` runs it (start-up objects frozen out of the GC)

    @app.get("/_bench/constant", include_in_schema=False)
    def constant() -> dict[str, str]:
        """A bare endpoint returning a constant: the floor of the API benchmarks."""
        return {"status": "ok"}

    if os.environ.get("IDENTITO_BENCH_SERVER_TIMING") == "1":
        app.add_middleware(ServerTiming)  # outermost: around the sessions and the web sub-application
    return app


def main(argv: list[str]) -> None:
    """Serve the benchmark's application on the inherited socket with 1 or more worker processes."""
    fd, workers = int(argv[0]), int(argv[1])
    sock = socket.socket(fileno=fd)  # family and type detected from the descriptor (AF_INET)
    config = uvicorn.Config(
        "bench.serve:create_bench_app", factory=True, workers=workers, loop="uvloop", http="httptools",
        access_log=False, log_level="warning",
        # Connections kept between series: a web session lives in one worker's memory (docs/web.md),
        # and a connection reopened after uvicorn's 5 s default could land on the other worker.
        timeout_keep_alive=600,
    )
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
