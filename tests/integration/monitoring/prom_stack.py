"""Start a real Prometheus stack from Debian on free loopback ports, and stop it by PID.

Prometheus scrapes itself, node-exporter, a pushgateway (with pushed metrics) and a target that is
down; it evaluates a rule that fires at once (`vector(1) > 0`), one that stays pending (`for: 1h`)
and a recording rule, and sends alerts to an Alertmanager with one named receiver.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.services import free_port, require_program, stop_process, wait_until

# bcrypt (cost 4) of BASIC_AUTH_PASSWORD, for Prometheus's --web.config.file.
BASIC_AUTH_USER = "reader"
BASIC_AUTH_PASSWORD = "code-test-password"
_BASIC_AUTH_HASH = "$2b$04$dPuZAmi/Tnrk3BCEqNbmuOjsMO4peLIJ6nxTgGwXvc31SSluyYkSS"

_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
CARDINALITY_SERIES = 300
PUSHED_JOB = "code_batch"

RULES = """
groups:
  - name: code-test
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1) > 0
        labels: {severity: page}
        annotations:
          summary: "Always firing, for the tests"
          runbook_url: "https://runbooks.example/always"
          description: "Log in to the console with password=hunter2-secret to see more"
      - alert: SlowBurn
        expr: vector(1) > 0
        for: 1h
        labels: {severity: ticket}
        annotations: {summary: "True but waiting out its for duration"}
      - alert: NeverFires
        expr: vector(1) < 0
        annotations: {summary: "Never true"}
      - alert: BrokenRule
        # Fails once `up` has several series; before that it is merely never true (so it never fires).
        expr: (vector(1) + on() up) < 0
        annotations: {summary: "Fails to evaluate: one-to-one match against several series"}
      - record: code:up:sum
        expr: sum(up)
"""


@dataclass(frozen=True)
class PromStack:
    """URLs of the running stack."""

    prometheus: str
    node_exporter: str
    pushgateway: str
    alertmanager: str
    down_target: str


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it if the test process dies without tearing down."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def _get_ok(url: str, **kwargs: object) -> bool:
    return httpx.get(url, timeout=1.0, **kwargs).status_code == 200  # type: ignore[arg-type]


@contextmanager
def _process(args: list[str], log: Path, ready_url: str, what: str, **auth: object) -> Iterator[None]:
    proc = _start(args, log)
    try:
        try:
            wait_until(lambda: _get_ok(ready_url, **auth), timeout=30, what=what)
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}; log:\n{log.read_text()[-2000:]}") from exc
        yield
    finally:
        stop_process(proc)


def push_metrics(pushgateway: str) -> None:
    """Metrics a batch job would push: a success timestamp and a wide gauge for the cardinality guard."""
    lines = [
        "# TYPE code_batch_last_success_timestamp_seconds gauge",
        "# HELP code_batch_last_success_timestamp_seconds Last time the batch job succeeded.",
        "code_batch_last_success_timestamp_seconds 1.7e+09",
        "# TYPE code_batch_records_processed gauge",
        'code_batch_records_processed{stage="load"} 1234',
        "# TYPE code_test_cardinality gauge",
        *(f'code_test_cardinality{{shard="s{i:04d}"}} {i}' for i in range(CARDINALITY_SERIES)),
    ]
    body = ("\n".join(lines) + "\n").encode()
    response = httpx.put(f"{pushgateway}/metrics/job/{PUSHED_JOB}", content=body, timeout=5.0)
    response.raise_for_status()


def _prometheus_config(stack_dir: Path, node: int, push: int, alert: int, down: int, self_port: int) -> Path:
    rules = stack_dir / "rules.yml"
    rules.write_text(RULES)
    config = stack_dir / "prometheus.yml"
    config.write_text(
        f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}}
rule_files: ["{rules}"]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{alert}"]}}]
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:{self_port}"]}}]
  - job_name: node
    static_configs: [{{targets: ["127.0.0.1:{node}"]}}]
  - job_name: pushgateway
    honor_labels: true
    static_configs: [{{targets: ["127.0.0.1:{push}"]}}]
  - job_name: gone
    static_configs: [{{targets: ["127.0.0.1:{down}"]}}]
"""
    )
    return config


def _wait_for_data(prometheus: str) -> None:
    def scraped() -> bool:
        every_job = 'count(up{job=~"prometheus|node|pushgateway"} == 1) == 3'
        query = f"{every_job} and on() count(code_test_cardinality) > 0"
        result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=2.0).json()
        return bool(result["data"]["result"])

    def firing() -> bool:
        alerts = httpx.get(f"{prometheus}/api/v1/alerts", timeout=2.0).json()["data"]["alerts"]
        return any(a["labels"]["alertname"] == "AlwaysFiring" and a["state"] == "firing" for a in alerts)

    def evaluated() -> bool:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=2.0).json()["data"]["groups"]
        return any(r["name"] == "BrokenRule" and r["health"] == "err" for g in groups for r in g["rules"])

    wait_until(scraped, timeout=60, what="Prometheus scraping every target", interval=0.2)
    wait_until(firing, timeout=60, what="the AlwaysFiring alert", interval=0.2)
    wait_until(evaluated, timeout=60, what="the BrokenRule evaluation error", interval=0.2)


@contextmanager
def prometheus_stack(stack_dir: Path) -> Iterator[PromStack]:
    """Start Alertmanager, node-exporter, pushgateway and Prometheus; stop them all on exit."""
    prometheus = require_program("prometheus")
    node_exporter = require_program("prometheus-node-exporter", "node_exporter")
    pushgateway = require_program("prometheus-pushgateway", "pushgateway")
    alertmanager = require_program("prometheus-alertmanager", "alertmanager")
    node, push, alert, down, prom = (free_port() for _ in range(5))
    am_config = stack_dir / "alertmanager.yml"
    am_config.write_text("route: {receiver: code-null}\nreceivers:\n  - name: code-null\n")
    (stack_dir / "am").mkdir()
    (stack_dir / "tsdb").mkdir()
    config = _prometheus_config(stack_dir, node, push, alert, down, prom)
    stack = PromStack(
        prometheus=f"http://127.0.0.1:{prom}",
        node_exporter=f"http://127.0.0.1:{node}",
        pushgateway=f"http://127.0.0.1:{push}",
        alertmanager=f"http://127.0.0.1:{alert}",
        down_target=f"http://127.0.0.1:{down}",
    )
    with ExitStack() as stack_ctx:
        stack_ctx.enter_context(
            _process(
                [
                    alertmanager,
                    f"--config.file={am_config}",
                    f"--storage.path={stack_dir / 'am'}",
                    f"--web.listen-address=127.0.0.1:{alert}",
                    "--cluster.listen-address=",
                ],
                stack_dir / "alertmanager.log",
                f"{stack.alertmanager}/-/ready",
                "Alertmanager",
            )
        )
        stack_ctx.enter_context(
            _process(
                [node_exporter, f"--web.listen-address=127.0.0.1:{node}", "--no-collector.systemd"],
                stack_dir / "node-exporter.log",
                f"{stack.node_exporter}/metrics",
                "node-exporter",
            )
        )
        stack_ctx.enter_context(
            _process(
                [pushgateway, f"--web.listen-address=127.0.0.1:{push}"],
                stack_dir / "pushgateway.log",
                f"{stack.pushgateway}/-/ready",
                "pushgateway",
            )
        )
        push_metrics(stack.pushgateway)
        stack_ctx.enter_context(
            _process(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={stack_dir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{prom}",
                    "--web.enable-lifecycle",
                ],
                stack_dir / "prometheus.log",
                f"{stack.prometheus}/-/ready",
                "Prometheus",
            )
        )
        _wait_for_data(stack.prometheus)
        yield stack


@contextmanager
def prometheus_with_basic_auth(stack_dir: Path) -> Iterator[str]:
    """A second, empty Prometheus that demands basic auth (Prometheus's --web.config.file)."""
    prometheus = require_program("prometheus")
    port = free_port()
    web = stack_dir / "web.yml"
    web.write_text(f"basic_auth_users:\n  {BASIC_AUTH_USER}: {_BASIC_AUTH_HASH}\n")
    config = stack_dir / "auth-prometheus.yml"
    config.write_text(
        f"global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: self\n"
        f'    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]\n    basic_auth: '
        f"{{username: {BASIC_AUTH_USER}, password: {BASIC_AUTH_PASSWORD}}}\n"
    )
    (stack_dir / "auth-tsdb").mkdir()
    with _process(
        [
            prometheus,
            f"--config.file={config}",
            f"--web.config.file={web}",
            f"--storage.tsdb.path={stack_dir / 'auth-tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stack_dir / "auth-prometheus.log",
        f"http://127.0.0.1:{port}/-/ready",
        "Prometheus with basic auth",
        auth=(BASIC_AUTH_USER, BASIC_AUTH_PASSWORD),
    ):
        yield f"http://127.0.0.1:{port}"
