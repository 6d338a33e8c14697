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

[monitoring.suite_servers]
deployment = "http://127.0.0.1:8101/metrics"
```
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

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


class PrometheusEndpoint(BaseModel):
    """One Prometheus server the tools may query, and how to authenticate to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="Base URL of the Prometheus server, e.g. http://127.0.0.1:9090")
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
            raise ValueError(
                "use either bearer_token or username/password for a Prometheus endpoint, not both"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("basic auth for a Prometheus endpoint needs both username and password")
        return self


class MonitoringSettings(BaseModel):
    """Configuration of the monitoring server; every limit has a safe default."""

    model_config = ConfigDict(extra="forbid")

    endpoints: dict[str, PrometheusEndpoint] = Field(
        default_factory=dict, description="Prometheus servers by name (e.g. prod, staging)"
    )
    default_endpoint: str | None = Field(
        default=None, description="Endpoint used when a tool call names none; defaults to the only one"
    )
    max_series: int = Field(default=500, ge=1, le=100_000, description="Refuse query results above this")
    max_points: int = Field(default=11_000, ge=10, le=100_000, description="Points per series, range queries")
    target_points: int = Field(
        default=120, ge=10, le=2_000, description="Points aimed for by the automatic step"
    )
    max_raw_points: int = Field(default=2_000, ge=10, description="Raw points returned by one range call")
    max_response_bytes: int = Field(default=16 * 2**20, ge=1024, description="Largest Prometheus reply read")
    health_timeout_s: float = Field(default=5.0, gt=0, le=60, description="Timeout of one health check")
    health_max_urls: int = Field(default=20, ge=1, le=100, description="URLs one health_check call may probe")
    health_ca_file: Path | None = Field(default=None, description="Extra CA bundle for health checks")
    suite_servers: dict[str, str] = Field(
        default_factory=dict, description="CODE servers whose /metrics suite_metrics reads, by name"
    )
    suite_timeout_s: float = Field(default=3.0, gt=0, le=60, description="Timeout reading one /metrics")
    top_processes: int = Field(default=10, ge=0, le=50, description="Processes listed by host_stats")

    @field_validator("endpoints")
    @classmethod
    def _check_names(cls, value: dict[str, PrometheusEndpoint]) -> dict[str, PrometheusEndpoint]:
        for name in value:
            if not ENDPOINT_NAME.match(name):
                raise ValueError(f"endpoint name {name!r} must match {ENDPOINT_NAME.pattern}")
        return value

    @field_validator("suite_servers")
    @classmethod
    def _check_suite(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _http_url(url, f"suite_servers.{name}") for name, url in value.items()}

    @model_validator(mode="after")
    def _check_default(self) -> Self:
        if self.default_endpoint is not None and self.default_endpoint not in self.endpoints:
            known = ", ".join(sorted(self.endpoints)) or "none configured"
            raise ValueError(
                f"default_endpoint {self.default_endpoint!r} is not a configured endpoint ({known})"
            )
        return self

    def resolve_endpoint(self, name: str | None) -> str:
        """The endpoint a call means: `name`, else the default, else the only one configured.

        Raises:
            LookupError: with a message listing the configured endpoints.
        """
        known = ", ".join(sorted(self.endpoints)) or "none"
        if name is None:
            if self.default_endpoint is not None:
                return self.default_endpoint
            if len(self.endpoints) == 1:
                return next(iter(self.endpoints))
            raise LookupError(f"name a Prometheus endpoint; configured endpoints: {known}")
        if name not in self.endpoints:
            raise LookupError(f"unknown Prometheus endpoint {name!r}; configured endpoints: {known}")
        return name
