"""The outbound clients of one monitoring server, opened on first use and closed after the last session.

The server's lifespan holds `Backends.session()` for each MCP session; `shared.client_lifetime`
closes everything when the last session ends, and the next use builds fresh clients. Sessions that
overlap share the clients (and their connection pools).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import httpx

from servers.monitoring.am_client import AlertmanagerClient
from servers.monitoring.health_ops import HealthChecker, UrlCheck
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import MonitoringSettings
from shared.client_lifetime import ClientLifetime
from shared.errors import InvalidArgument
from shared.ownership import OwnershipLedger


class Backends:
    """Prometheus and Alertmanager clients by name and the health checker, created lazily; and the
    ledger of the silences this server created (it outlives the clients)."""

    def __init__(
        self,
        settings: MonitoringSettings,
        url_check: UrlCheck,
        *,
        prometheus_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        # `prometheus_transport` (tests only) serves the Alertmanager clients too.
        self._settings = settings
        self._url_check = url_check
        self._transport = prometheus_transport
        self._prometheus: dict[str, PrometheusClient] = {}
        self._alertmanagers: dict[str, AlertmanagerClient] = {}
        self.silences = OwnershipLedger(settings.silence_ledger_file)
        self._health: HealthChecker | None = None
        self._lifetime = ClientLifetime(self.aclose)

    def prometheus(self, endpoint: str | None) -> PrometheusClient:
        """The client of the named endpoint (None: the default one).

        Raises:
            InvalidArgument: unknown name, or no default; the message lists the configured endpoints.
        """
        try:
            name = self._settings.resolve_endpoint(endpoint)
        except LookupError as exc:
            raise InvalidArgument(str(exc)) from None
        client = self._prometheus.get(name)
        if client is None:
            client = PrometheusClient(
                name,
                self._settings.endpoints[name],
                max_response_bytes=self._settings.max_response_bytes,
                transport=self._transport,
            )
            self._prometheus[name] = client
        return client

    def alertmanager(self, name: str | None) -> AlertmanagerClient:
        """The client of the named Alertmanager (None: the default one).

        Raises:
            InvalidArgument: unknown name, or no default; the message lists the configured ones.
        """
        try:
            resolved = self._settings.resolve_alertmanager(name)
        except LookupError as exc:
            raise InvalidArgument(str(exc)) from None
        client = self._alertmanagers.get(resolved)
        if client is None:
            client = AlertmanagerClient(
                resolved,
                self._settings.alertmanagers[resolved],
                max_response_bytes=self._settings.max_response_bytes,
                transport=self._transport,
            )
            self._alertmanagers[resolved] = client
        return client

    def health(self) -> HealthChecker:
        """The health checker (policy-checked URLs only)."""
        if self._health is None:
            self._health = HealthChecker(
                self._url_check,
                timeout_s=self._settings.health_timeout_s,
                max_urls=self._settings.health_max_urls,
                ca_file=self._settings.health_ca_file,
            )
        return self._health

    def session(self) -> AbstractAsyncContextManager[None]:
        """Mark one session as using the clients; the last one out closes them."""
        return self._lifetime.session()

    async def aclose(self) -> None:
        """Close every client now; later calls build new ones."""
        clients, self._prometheus = list(self._prometheus.values()), {}
        managers, self._alertmanagers = list(self._alertmanagers.values()), {}
        health, self._health = self._health, None
        for client in clients:
            await client.aclose()
        for manager in managers:
            await manager.aclose()
        if health is not None:
            await health.aclose()
