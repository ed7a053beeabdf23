"""The metrics listener: /metrics for Prometheus, /healthz for whatever checks health.

A small WSGI app under the standard library's server, one thread per
request, in a thread of its own beside the asyncio loop. prometheus_client's
own `start_http_server` would serve the same, but it listens on 0.0.0.0
unless told otherwise and answers every path with the metrics; here the
address comes from the config (127.0.0.1 by default) and /healthz is a page
of its own.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from peewee import DatabaseError
from prometheus_client import CollectorRegistry, make_wsgi_app
from tierdesk.daemon.status import DeskStatus

log = logging.getLogger("tierdesk.metrics")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
STATUS_LINES = {200: "200 OK", 404: "404 Not Found", 503: "503 Service Unavailable"}


@dataclass(frozen=True)
class Health:
    """The answer of /healthz: 200 with "ok", or 503 with the reasons, one a line."""

    code: int
    text: str


def judge_health(read_status: Callable[[], DeskStatus]) -> Health:
    """200 when storage answers and nothing is stuck (what `tierdesk status` calls stuck)."""
    try:
        status = read_status()
    except DatabaseError as exc:
        return Health(503, f"storage unreachable: {exc}")
    except Exception as exc:  # a bug here must still answer, and say it is unhealthy
        log.exception("/healthz: cannot read the desk's status")
        return Health(503, f"cannot read the desk's status: {type(exc).__name__}")
    if status.problems:
        return Health(503, "\n".join(f"stuck: {p}" for p in status.problems))
    return Health(200, "ok")


def make_app(registry: CollectorRegistry, health: Callable[[], Health]) -> WsgiApp:
    """/metrics (and /) serve the registry; /healthz the health; anything else is 404."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path in ("/metrics", "/"):
            return metrics(environ, start_response)
        if path == "/healthz":
            answer = health()
            return _text(start_response, answer.code, answer.text)
        return _text(start_response, 404, "not found: try /metrics or /healthz")

    return app


def _text(start_response: StartResponse, code: int, text: str) -> list[bytes]:
    start_response(
        STATUS_LINES[code],
        [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")],
    )
    return [(text + "\n").encode()]


class _Server(ThreadingMixIn, WSGIServer):
    """One thread per request, none of them keeping the daemon from exiting."""

    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (every scrape would add a line)."""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class MetricsListener:
    """Serves `app` on host:port in a thread; `start` binds (raising OSError), `stop` ends it."""

    def __init__(self, host: str, port: int, app: WsgiApp) -> None:
        self.host = host
        self.port = port
        self.app = app
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the port the system chose, when 0 was configured)."""
        assert self._server is not None
        return self._server.server_address[0], self._server.server_address[1]

    def start(self) -> None:
        """Bind and start serving; an address in use raises OSError naming the listener."""
        server_class = _Server6 if ":" in self.host else _Server
        try:
            self._server = make_server(
                self.host,
                self.port,
                self.app,
                server_class=server_class,
                handler_class=_QuietHandler,
            )
        except OSError as exc:
            where = f"{self.host}:{self.port} (metrics)"
            raise OSError(exc.errno, exc.strerror, where) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name="tierdesk-metrics",
            daemon=True,
        )
        self._thread.start()
        host, port = self.address
        log.info("metrics on http://%s:%s/metrics, health on /healthz", host, port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = None
