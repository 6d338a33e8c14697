"""Probe HTTP(S) endpoints: status, latency, TLS certificate expiry and expected body text.

Every URL is checked by the policy (allowlist + SSRF rules, host resolved) before any request goes
out; one refused URL refuses the whole call. The probe connects to the address the check resolved
(the name travels only as the Host header and the TLS server name), so a DNS answer that changes
after the check (rebinding) cannot redirect it. Redirects are reported, never followed: following
one would reach a URL the policy never saw.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx
from anyio.streams.tls import TLSAttribute
from cryptography import x509
from cryptography.x509.oid import NameOID

from servers.monitoring.models import CertificateInfo, HealthReport, HealthResult
from servers.monitoring.time_args import iso
from shared.errors import InvalidArgument
from shared.urls import ResolvedUrl

UrlCheck = Callable[[str], Awaitable[ResolvedUrl]]
_BODY_LIMIT = 64 * 1024
_PARALLEL = 5


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def certificate_info(der: bytes, *, now: float) -> CertificateInfo:
    """Subject, issuer and expiry of a DER certificate."""
    cert = x509.load_der_x509_certificate(der)
    expires = cert.not_valid_after_utc.timestamp()
    return CertificateInfo(
        subject=_common_name(cert.subject),
        issuer=_common_name(cert.issuer),
        not_after=iso(expires),
        days_left=round((expires - now) / 86400, 2),
    )


def _verifying_context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


async def _unverified_certificate(
    target: ResolvedUrl, timeout_s: float, *, now: float
) -> CertificateInfo | None:
    """The certificate of a server whose certificate failed verification, to say why (e.g. expired)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to read the certificate; nothing is sent
    try:
        with anyio.fail_after(timeout_s):
            stream = await anyio.connect_tcp(
                target.addresses[0], target.port, ssl_context=context, tls_hostname=target.host,
                tls_standard_compatible=False,
            )  # fmt: skip
            async with stream:
                ssl_object = stream.extra(TLSAttribute.ssl_object)  # noqa: S610 - anyio, not Django
                der = ssl_object.getpeercert(binary_form=True)
    except (OSError, TimeoutError, ssl.SSLError, anyio.BrokenResourceError):
        return None
    return certificate_info(der, now=now) if der else None


class HealthChecker:
    """Probes URLs with one pooled client; `check` applies the policy first."""

    def __init__(self, url_check: UrlCheck, *, timeout_s: float, max_urls: int, ca_file: Path | None) -> None:
        self._url_check = url_check
        self._timeout = timeout_s
        self._max_urls = max_urls
        self._http = httpx.AsyncClient(
            verify=_verifying_context(ca_file),
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            headers={"User-Agent": "code-mcp-health-check"},
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(
        self, urls: list[str], *, expect_status: int | None = None, expect_text: str | None = None
    ) -> HealthReport:
        """Probe every URL (at most 5 at a time) once the policy has allowed them all."""
        if not urls:
            raise InvalidArgument("give at least one URL to check")
        if len(urls) > self._max_urls:
            raise InvalidArgument(f"{len(urls)} URLs given; one call checks at most {self._max_urls}")
        if expect_text is not None and not 0 < len(expect_text) <= 1000:
            raise InvalidArgument("expect_text must be 1 to 1000 characters")
        allowed = [await self._url_check(url) for url in urls]
        results: list[HealthResult | None] = [None] * len(allowed)
        limiter = anyio.CapacityLimiter(_PARALLEL)

        async def probe(index: int, target: ResolvedUrl) -> None:
            async with limiter:
                results[index] = await self._probe(target, expect_status, expect_text)

        async with anyio.create_task_group() as group:
            for index, target in enumerate(allowed):
                group.start_soon(probe, index, target)
        done = [r for r in results if r is not None]
        return HealthReport(checked=len(done), healthy=sum(r.ok for r in done), results=done)

    async def _probe(
        self, target: ResolvedUrl, expect_status: int | None, expect_text: str | None
    ) -> HealthResult:
        url = target.url
        started = time.perf_counter()
        now = time.time()
        headers = {"Host": urlsplit(url).netloc.rpartition("@")[2]}
        try:
            with anyio.fail_after(self._timeout * 2):
                pinned = self._http.stream(
                    "GET", target.pinned(), headers=headers, extensions={"sni_hostname": target.host}
                )
                async with pinned as response:
                    latency = (time.perf_counter() - started) * 1000
                    certificate = self._certificate(response, now=now)
                    body_match = None
                    if expect_text is not None:
                        body_match = expect_text in await _read_start(response)
        except (httpx.TimeoutException, TimeoutError):
            return HealthResult(url=url, ok=False, error=f"timed out after {self._timeout:g}s")
        except httpx.ConnectError as exc:
            certificate = None
            if "CERTIFICATE_VERIFY_FAILED" in str(exc):
                certificate = await _unverified_certificate(target, self._timeout, now=now)
            return HealthResult(url=url, ok=False, error=f"cannot connect: {exc}", certificate=certificate)
        except httpx.HTTPError as exc:
            return HealthResult(url=url, ok=False, error=f"{type(exc).__name__}: {exc}")
        status = response.status_code
        status_ok = status == expect_status if expect_status is not None else 200 <= status < 300
        error = "" if status_ok else f"HTTP {status}, expected {expect_status or '2xx'}"
        if body_match is False:
            error = (error + "; " if error else "") + "expected text not found in the first 64 KiB"
        return HealthResult(
            url=url,
            ok=status_ok and body_match is not False,
            status=status,
            latency_ms=round(latency, 3),
            error=error,
            redirect_to=response.headers.get("location") if response.is_redirect else None,
            body_match=body_match,
            certificate=certificate,
        )

    @staticmethod
    def _certificate(response: httpx.Response, *, now: float) -> CertificateInfo | None:
        stream = response.extensions.get("network_stream")
        ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        return certificate_info(der, now=now) if der else None


async def _read_start(response: httpx.Response) -> str:
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data.extend(chunk)
        if len(data) >= _BODY_LIMIT:
            break
    return bytes(data[:_BODY_LIMIT]).decode(response.encoding or "utf-8", errors="replace")
