"""Run the API for a benchmark on a listening TCP socket inherited from the parent process.

uvicorn's own ``--fd`` option wraps the descriptor as a Unix socket, so TCP_NODELAY is never set
and every response waits for the peer's delayed ACK (about 40 ms): the socket is rebuilt here with
its real family instead. Usage: ``python -m bench.serve FD WORKERS``. The application is Identito's API
plus one route of the benchmark's own, ``/_bench/constant``: the floor of the API benchmarks
(production code carries no benchmark hook).
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess


def create_bench_app() -> FastAPI:
    """Identito's API (settings from the environment) with the benchmark's bare endpoint."""
    from app.main import create_app

    app = create_app()

    @app.get("/_bench/constant", include_in_schema=False)
    def constant() -> dict[str, str]:
        """A bare endpoint returning a constant: the floor of the API benchmarks."""
        return {"status": "ok"}

    return app


def main(argv: list[str]) -> None:
    """Serve the benchmark's application on the inherited socket with 1 or more worker processes."""
    fd, workers = int(argv[0]), int(argv[1])
    sock = socket.socket(fileno=fd)  # family and type detected from the descriptor (AF_INET)
    config = uvicorn.Config(
        "bench.serve:create_bench_app", factory=True, workers=workers, loop="uvloop", http="httptools",
        access_log=False, log_level="warning",
    )
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1:])
