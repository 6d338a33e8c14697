"""The `[monitoring]` section of the suite configuration.

```toml
[monitoring]
default_endpoint = "prod"

[monitoring.endpoints.prod]
url = "https://prometheus.example.com"
bearer_token = "…"

[monitoring.endpoints.staging]
url = "http://prometheus.staging:9090"
username = "reader"
password = "…"

[monitoring.alertmanagers.prod]
url = "https://alertmanager.example.com"
bearer_token = "…"

[monitoring.suite_servers]
deployment = "http://127.0.0.1:8101/metrics"
```

SLOs (`[monitoring.slos.<name>]`) and rollout checks (`[monitoring.rollout_checks.<name>]`) are
described in `objective_settings`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from servers.monitoring.objective_settings import RolloutCheck, SloObjective, check_names

ENDPOINT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL, got {value!r}")
    if parts.username or parts.password:
        raise ValueError(
            f"{what} must not carry credentials in the URL; use username/password or bearer_token"
        )
    return value.rstrip("/")


class HttpEndpoint(BaseModel):
    """One server the tools may call (Prometheus or Alertmanager), and how to authenticate to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Base URL of the server, e.g. http://127.0.0.1:9090")
    bearer_token: SecretStr | None = Field(default=None, description="Sent as `Authorization: Bearer …`")
    username: str | None = Field(default=None, description="Basic auth user (with `password`)")
    password: SecretStr | None = Field(default=None, description="Basic auth password")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per-request timeout in seconds")
    retries: int = Field(default=2, ge=0, le=5, description="Retries after a connection error or 5xx")
    verify_tls: bool = Field(default=True, description="Verify the server's TLS certificate")
    ca_file: Path | None = Field(default=None, description="CA bundle to verify the server with")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value, "monitoring endpoint url")

    @model_validator(mode="after")
    def _check_auth(self) -> Self:
        if self.bearer_token is not None and (self.username or self.password):
            raise ValueError("use either bearer_token or username/password for an endpoint, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth for an endpoint needs both username and password")
        return self


class PrometheusEndpoint(HttpEndpoint):
    """A Prometheus server."""

    scrape_interval_s: float | None = Field(
        default=None,
        gt=0,
        le=3600,
        description="Sample spacing the cost guard assumes; default: Prometheus's global scrape_interval",
    )


class AlertmanagerEndpoint(HttpEndpoint):
    """An Alertmanager (API v2)."""


def _resolve(kind: str, configured: dict[str, HttpEndpoint], default: str | None, name: str | None) -> str:
    known = ", ".join(sorted(configured)) or "none"
    plural = "endpoints" if kind == "Prometheus endpoint" else "Alertmanagers"
    if name is None:
        if default is not None:
            return default
        if len(configured) == 1:
            return next(iter(configured))
        article = "an" if kind[0] in "AEIOU" else "a"
        raise LookupError(f"name {article} {kind}; configured {plural}: {known}")
    if name not in configured:
        raise LookupError(f"unknown {kind} {name!r}; configured {plural}: {known}")
    return name


class MonitoringSettings(BaseModel):
    """Configuration of the monitoring server; every limit has a safe default."""

    model_config = ConfigDict(extra="forbid")

    endpoints: dict[str, PrometheusEndpoint] = Field(
        default_factory=dict, description="Prometheus servers by name (e.g. prod, staging)"
    )
    default_endpoint: str | None = Field(
        default=None, description="Endpoint used when a tool call names none; defaults to the only one"
    )
    alertmanagers: dict[str, AlertmanagerEndpoint] = Field(
        default_factory=dict, description="Alertmanagers by name, with the same options as endpoints"
    )
    default_alertmanager: str | None = Field(
        default=None, description="Alertmanager used when a call names none; defaults to the only one"
    )
    max_series: int = Field(default=500, ge=1, le=100_000, description="Refuse query results above this")
    max_points: int = Field(default=11_000, ge=10, le=100_000, description="Points per series, range queries")
    target_points: int = Field(
        default=120, ge=10, le=2_000, description="Points aimed for by the automatic step"
    )
    max_raw_points: int = Field(default=2_000, ge=10, description="Raw points returned by one range call")
    max_response_bytes: int = Field(default=16 * 2**20, ge=1024, description="Largest Prometheus reply read")
    cost_guard: bool = Field(
        default=True, description="Estimate range queries (and range selectors) before running them"
    )
    cost_max_samples: int = Field(
        default=50_000_000, ge=1_000, description="Refuse queries estimated to read more samples"
    )
    cost_max_selectors: int = Field(
        default=20, ge=1, le=200, description="Refuse queries with more distinct selectors to estimate"
    )
    silence_max_duration_s: float = Field(
        default=86_400, ge=60, le=90 * 86_400, description="Longest silence am_silence_create may set"
    )
    silence_ledger_file: Path | None = Field(
        default=None, description="Where the silences this server created are recorded (else memory)"
    )
    group_alerts_shown: int = Field(default=10, ge=1, le=100, description="Alerts listed per alert group")
    alerts_watch_s: float = Field(
        default=15,
        ge=0.5,
        le=3600,
        description="How often alerts://{endpoint} is re-read while a client listens",
    )
    slos: dict[str, SloObjective] = Field(default_factory=dict, description="SLOs slo_status reports on")
    rollout_checks: dict[str, RolloutCheck] = Field(
        default_factory=dict, description="Named conditions rollout_verify watches"
    )
    rollout_max_window_s: float = Field(
        default=1800, ge=1, le=6 * 3600, description="Longest watch one rollout_verify call may run"
    )
    health_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Timeout of one health check")
    health_max_urls: int = Field(default=20, ge=1, le=100, description="URLs one health_check call may probe")
    health_ca_file: Path | None = Field(default=None, description="Extra CA bundle for health checks")
    suite_servers: dict[str, str] = Field(
        default_factory=dict, description="CODE servers whose /metrics suite_metrics reads, by name"
    )
    suite_timeout_s: float = Field(default=3.0, gt=0, le=60, description="Timeout reading one /metrics")
    top_processes: int = Field(default=10, ge=0, le=50, description="Processes listed by host_stats")

    @field_validator("endpoints", "alertmanagers")
    @classmethod
    def _check_names(cls, value: dict[str, HttpEndpoint]) -> dict[str, HttpEndpoint]:
        for name in value:
            if not ENDPOINT_NAME.match(name):
                raise ValueError(f"endpoint name {name!r} must match {ENDPOINT_NAME.pattern}")
        return value

    @field_validator("slos", "rollout_checks")
    @classmethod
    def _check_objective_names(cls, value: dict[str, object]) -> dict[str, object]:
        check_names(value)
        return value

    @field_validator("suite_servers")
    @classmethod
    def _check_suite(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _http_url(url, f"suite_servers.{name}") for name, url in value.items()}

    @model_validator(mode="after")
    def _check_defaults(self) -> Self:
        for field, default, configured in (
            ("default_endpoint", self.default_endpoint, self.endpoints),
            ("default_alertmanager", self.default_alertmanager, self.alertmanagers),
        ):
            if default is not None and default not in configured:
                known = ", ".join(sorted(configured)) or "none configured"
                raise ValueError(f"{field} {default!r} is not a configured endpoint ({known})")
        for kind, objectives in (("slos", self.slos), ("rollout_checks", self.rollout_checks)):
            for name, objective in objectives.items():
                if objective.endpoint is not None and objective.endpoint not in self.endpoints:
                    raise ValueError(
                        f"{kind}.{name}.endpoint {objective.endpoint!r} is not a configured endpoint"
                    )
        return self

    def resolve_endpoint(self, name: str | None) -> str:
        """The Prometheus endpoint a call means: `name`, else the default, else the only one configured.

        Raises:
            LookupError: with a message listing the configured endpoints.
        """
        return _resolve("Prometheus endpoint", dict(self.endpoints), self.default_endpoint, name)

    def resolve_alertmanager(self, name: str | None) -> str:
        """The Alertmanager a call means: `name`, else the default, else the only one configured.

        Raises:
            LookupError: with a message listing the configured Alertmanagers.
        """
        return _resolve("Alertmanager", dict(self.alertmanagers), self.default_alertmanager, name)
