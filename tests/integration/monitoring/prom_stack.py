"""Start a real Prometheus stack from Debian on free loopback ports, and stop it by PID.

Prometheus scrapes itself, node-exporter, a pushgateway (with pushed metrics), a target that is
down and an "app" served by this process (`app_target.py`: request counters and a latency histogram
per deployment, and a /healthz per deployment); it evaluates a rule that fires at once
(`vector(1) > 0`), one that stays pending (`for: 1h`), a recording rule, and alerts for Alertmanager:
one inhibited by AlwaysFiring and one per shard of five. Alertmanager routes severity=page to
`code-pager` (a webhook into the app target), severity=ticket to `code-tickets`, the rest to
`code-null`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.monitoring.app_target import app_target
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
  - name: code-test-alertmanager
    interval: 1s
    rules:
      - alert: InhibitedByAlwaysFiring
        expr: vector(1) > 0
        labels: {severity: info}
        annotations: {summary: "Firing, but inhibited in Alertmanager while AlwaysFiring fires"}
      - alert: CodeShardHot
        expr: code_test_cardinality{shard=~"s000[0-4]"} >= 0
        labels: {severity: ticket, team: storage}
        annotations: {summary: "One alert per shard, for silences"}
"""

ALERTMANAGER = """
route:
  receiver: code-null
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['severity="page"']
      receiver: code-pager
    - matchers: ['severity="ticket"']
      receiver: code-tickets
receivers:
  - name: code-null
  - name: code-pager
    webhook_configs:
      - url: {hook}
        send_resolved: false
        http_config: {{authorization: {{credentials: webhook-secret-token-1234}}}}
  - name: code-tickets
inhibit_rules:
  - source_matchers: ['alertname="AlwaysFiring"']
    target_matchers: ['alertname="InhibitedByAlwaysFiring"']
"""
#: The alerts Alertmanager holds once the stack is up: name -> how many.
AM_ALERTS = {"AlwaysFiring": 1, "InhibitedByAlwaysFiring": 1, "CodeShardHot": 5}


@dataclass(frozen=True)
class PromStack:
    """URLs of the running stack."""

    prometheus: str
    node_exporter: str
    pushgateway: str
    alertmanager: str
    down_target: str
    app: str


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
def service_process(args: list[str], log: Path, ready_url: str, what: str, **auth: object) -> Iterator[None]:
    """Run a program until the block ends, once `ready_url` answers 200 (its log in the error if not)."""
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


def _prometheus_config(
    stack_dir: Path, node: int, push: int, alert: int, down: int, self_port: int, app: int
) -> Path:
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
  - job_name: app
    static_configs: [{{targets: ["127.0.0.1:{app}"]}}]
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

    def app_rates() -> bool:
        query = 'sum(rate(app_http_requests_total{deployment="web-bad"}[5s])) > 0'
        result = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=2.0).json()
        return bool(result["data"]["result"])

    wait_until(scraped, timeout=60, what="Prometheus scraping every target", interval=0.2)
    wait_until(firing, timeout=60, what="the AlwaysFiring alert", interval=0.2)
    wait_until(evaluated, timeout=60, what="the BrokenRule evaluation error", interval=0.2)
    wait_until(app_rates, timeout=60, what="two scrapes of the app target", interval=0.2)


def _wait_for_alertmanager(alertmanager: str) -> None:
    def routed() -> bool:
        alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=2.0).json()
        names = Counter(a["labels"]["alertname"] for a in alerts)
        inhibited = [a for a in alerts if a["status"]["inhibitedBy"]]
        return dict(names) == AM_ALERTS and len(inhibited) == 1

    wait_until(routed, timeout=60, what="the alerts in Alertmanager (and the inhibition)", interval=0.2)


@contextmanager
def prometheus_stack(stack_dir: Path) -> Iterator[PromStack]:
    """Start the app target, Alertmanager, node-exporter, pushgateway and Prometheus; stop them all."""
    prometheus = require_program("prometheus")
    node_exporter = require_program("prometheus-node-exporter", "node_exporter")
    pushgateway = require_program("prometheus-pushgateway", "pushgateway")
    alertmanager = require_program("prometheus-alertmanager", "alertmanager")
    node, push, alert, down, prom = (free_port() for _ in range(5))
    (stack_dir / "am").mkdir()
    (stack_dir / "tsdb").mkdir()
    with ExitStack() as stack_ctx:
        app = stack_ctx.enter_context(app_target())
        am_config = stack_dir / "alertmanager.yml"
        am_config.write_text(ALERTMANAGER.format(hook=f"{app.url}/hook"))
        config = _prometheus_config(stack_dir, node, push, alert, down, prom, app.port)
        stack = PromStack(
            prometheus=f"http://127.0.0.1:{prom}",
            node_exporter=f"http://127.0.0.1:{node}",
            pushgateway=f"http://127.0.0.1:{push}",
            alertmanager=f"http://127.0.0.1:{alert}",
            down_target=f"http://127.0.0.1:{down}",
            app=app.url,
        )
        am_args = [
            alertmanager,
            f"--config.file={am_config}",
            f"--storage.path={stack_dir / 'am'}",
            f"--web.listen-address=127.0.0.1:{alert}",
            "--cluster.listen-address=",
        ]

        def start(args: list[str], log: str, ready: str, what: str) -> None:
            stack_ctx.enter_context(service_process(args, stack_dir / log, ready, what))

        start(am_args, "alertmanager.log", f"{stack.alertmanager}/-/ready", "Alertmanager")
        node_args = [node_exporter, f"--web.listen-address=127.0.0.1:{node}", "--no-collector.systemd"]
        start(node_args, "node-exporter.log", f"{stack.node_exporter}/metrics", "node-exporter")
        push_args = [pushgateway, f"--web.listen-address=127.0.0.1:{push}"]
        start(push_args, "pushgateway.log", f"{stack.pushgateway}/-/ready", "pushgateway")
        push_metrics(stack.pushgateway)
        prom_args = [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={stack_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom}",
            "--web.enable-lifecycle",
            # Alerts first evaluated before the notifier has found Alertmanager are resent only after
            # this delay (default 1m): keep it short so Alertmanager holds them within seconds.
            "--rules.alert.resend-delay=1s",
        ]
        start(prom_args, "prometheus.log", f"{stack.prometheus}/-/ready", "Prometheus")
        _wait_for_data(stack.prometheus)
        _wait_for_alertmanager(stack.alertmanager)
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
    with service_process(
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
