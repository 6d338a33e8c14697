"""The outbound clients of one monitoring server, opened on first use and closed after the last session.

The SDK runs a server's lifespan once per session (in memory, over stdio, per HTTP session), so
clients closed at the end of one session must not be handed to the next: `Backends` counts the
sessions using it, closes everything when the count drops to zero, and builds fresh clients on the
next use. Sessions that overlap share the clients (and their connection pools).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from servers.monitoring.health_ops import HealthChecker, UrlCheck
from servers.monitoring.prom_client import PrometheusClient
from servers.monitoring.settings import MonitoringSettings
from shared.errors import InvalidArgument


class Backends:
    """Prometheus clients by endpoint name and the health checker, created lazily."""

    def __init__(
        self,
        settings: MonitoringSettings,
        url_check: UrlCheck,
        *,
        prometheus_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._settings = settings
        self._url_check = url_check
        self._transport = prometheus_transport
        self._prometheus: dict[str, PrometheusClient] = {}
        self._health: HealthChecker | None = None
        self._sessions = 0

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

    @asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Mark one session as using the clients; the last one out closes them."""
        self._sessions += 1
        try:
            yield
        finally:
            self._sessions -= 1
            if self._sessions == 0:
                await self.aclose()

    async def aclose(self) -> None:
        """Close every client now; later calls build new ones."""
        clients, self._prometheus = list(self._prometheus.values()), {}
        health, self._health = self._health, None
        for client in clients:
            await client.aclose()
        if health is not None:
            await health.aclose()
