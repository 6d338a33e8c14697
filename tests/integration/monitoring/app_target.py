"""A scrape target served by the test process: what a freshly rolled-out web app would expose.

Two deployments, `web-good` and `web-bad`, each with request counters by status code and a latency
histogram whose values grow at fixed rates from the moment the server starts, so `rate()` over them
is known: web-good answers 20 req/s, none failing, all within 100 ms; web-bad 20 req/s of which 5
fail (25 %), with a p99 latency of about 2.5 s. `GET /healthz/<deployment>` answers 200 for web-good
and 503 for web-bad; `POST /hook` accepts Alertmanager's webhook notifications and counts them.

Kubernetes is not involved: the deployment is only a label value in the metrics, exactly as
rollout_verify sees it in production (a `deployment` label put there by relabelling).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# deployment -> (ok requests/s, failed requests/s, {histogram upper bound: requests/s at or below})
RATES: dict[str, tuple[float, float, dict[str, float]]] = {
    "web-good": (20.0, 0.0, {"0.1": 20.0, "0.5": 20.0, "2.5": 20.0, "+Inf": 20.0}),
    "web-bad": (15.0, 5.0, {"0.1": 2.0, "0.5": 4.0, "2.5": 20.0, "+Inf": 20.0}),
}
HEALTHY = {"web-good"}


@dataclass
class AppTarget:
    """The running target."""

    port: int
    started: float
    hooks: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def exposition(elapsed: float) -> str:
    """The metrics as Prometheus scrapes them, `elapsed` seconds after the start."""
    lines = [
        "# TYPE app_http_requests_total counter",
        "# TYPE app_http_request_duration_seconds histogram",
    ]
    for deployment, (ok, failed, buckets) in RATES.items():
        lines.append(f'app_http_requests_total{{deployment="{deployment}",code="200"}} {ok * elapsed:.3f}')
        lines.append(
            f'app_http_requests_total{{deployment="{deployment}",code="500"}} {failed * elapsed:.3f}'
        )
        for bound, rate in buckets.items():
            lines.append(
                f'app_http_request_duration_seconds_bucket{{deployment="{deployment}",le="{bound}"}} '
                f"{rate * elapsed:.3f}"
            )
        total = (ok + failed) * elapsed
        lines.append(f'app_http_request_duration_seconds_count{{deployment="{deployment}"}} {total:.3f}')
        lines.append(f'app_http_request_duration_seconds_sum{{deployment="{deployment}"}} {total * 0.2:.3f}')
    return "\n".join(lines) + "\n"


@contextmanager
def app_target() -> Iterator[AppTarget]:
    """Serve the target on a free loopback port (in a thread) until the block ends."""
    target = AppTarget(port=0, started=time.monotonic())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, exposition(time.monotonic() - target.started), "text/plain; version=0.0.4")
            elif self.path.startswith("/healthz/"):
                healthy = self.path.removeprefix("/healthz/") in HEALTHY
                self._send(200 if healthy else 503, "ok\n" if healthy else "unhealthy\n", "text/plain")
            else:
                self._send(404, "not found\n", "text/plain")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(min(length, 1 << 20))
            if self.path == "/hook":
                target.hooks.append(body)
                self._send(200, "{}", "application/json")
            else:
                self._send(404, "not found\n", "text/plain")

        def _send(self, status: int, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the test output is not a request log

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    target.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name="app-target", daemon=True)
    thread.start()
    try:
        yield target
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
