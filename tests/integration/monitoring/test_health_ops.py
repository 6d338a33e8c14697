"""health_check's logic against real HTTP(S) servers on loopback, through the real URL policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from servers.monitoring.health_ops import HealthChecker
from shared.errors import InvalidArgument
from shared.policy import Policy
from shared.policy_settings import PolicySettings
from tests.integration.monitoring.prom_stack import PromStack
from tests.integration.monitoring.tls_server import BODY, SLOW_S, TlsServer, https_server

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[TlsServer]:
    with https_server(tmp_path / "tls") as server:
        yield server


@pytest.fixture
def expired_tls(tmp_path: Path) -> Iterator[TlsServer]:
    with https_server(tmp_path / "expired", expired=True) as server:
        yield server


def _checker(allow: list[str], *, ca_file: Path | None = None, timeout_s: float = 2.0) -> HealthChecker:
    policy = Policy(PolicySettings(url_allowlist=allow))
    return HealthChecker(policy.resolve_url, timeout_s=timeout_s, max_urls=5, ca_file=ca_file)


@pytest.fixture
async def checker(tls: TlsServer, prom_stack: PromStack) -> AsyncIterator[HealthChecker]:
    check = _checker([tls.url, prom_stack.node_exporter, prom_stack.down_target], ca_file=tls.ca_file)
    try:
        yield check
    finally:
        await check.aclose()


async def test_healthy_https_endpoint_reports_certificate_and_body(
    checker: HealthChecker, tls: TlsServer
) -> None:
    report = await checker.check([tls.url + "/"], expect_text="all systems nominal")
    [result] = report.results
    assert result.ok and result.status == 200 and result.body_match is True
    assert result.latency_ms is not None and result.latency_ms > 0
    assert result.certificate is not None
    assert result.certificate.subject == "127.0.0.1" and result.certificate.issuer == "CODE test CA"
    assert 29 < result.certificate.days_left <= 30
    assert result.certificate.not_after.startswith(tls.not_after.strftime("%Y-%m-%dT%H:%M:%S"))
    assert report.healthy == report.checked == 1


async def test_failing_status_missing_text_and_plain_http(
    checker: HealthChecker, tls: TlsServer, prom_stack: PromStack
) -> None:
    report = await checker.check(
        [tls.url + "/fail", tls.url + "/", prom_stack.node_exporter + "/metrics"], expect_text="node_"
    )
    fail, missing, node = report.results
    assert not fail.ok and fail.status == 503 and "HTTP 503" in fail.error
    assert not missing.ok and missing.body_match is False and "expected text not found" in missing.error
    assert BODY not in missing.error.encode()
    assert node.ok and node.certificate is None and node.body_match is True
    assert report.healthy == 1


async def test_expected_status(checker: HealthChecker, tls: TlsServer) -> None:
    report = await checker.check([tls.url + "/fail"], expect_status=503)
    assert report.results[0].ok


async def test_redirect_is_reported_not_followed(checker: HealthChecker, tls: TlsServer) -> None:
    [result] = (await checker.check([tls.url + "/moved"])).results
    assert result.status == 302 and not result.ok
    assert result.redirect_to == "http://169.254.169.254/latest/meta-data/"


async def test_down_endpoint_is_reported(checker: HealthChecker, prom_stack: PromStack) -> None:
    [result] = (await checker.check([prom_stack.down_target + "/"])).results
    assert not result.ok and result.status is None and "cannot connect" in result.error


async def test_slow_endpoint_times_out(tls: TlsServer) -> None:
    check = _checker([tls.url], ca_file=tls.ca_file, timeout_s=SLOW_S / 3)
    try:
        [result] = (await check.check([tls.url + "/slow"])).results
    finally:
        await check.aclose()
    assert not result.ok and "timed out" in result.error


async def test_untrusted_certificate_fails_verification(tls: TlsServer) -> None:
    check = _checker([tls.url])  # no CA file: the test CA is not trusted
    try:
        [result] = (await check.check([tls.url + "/"])).results
    finally:
        await check.aclose()
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in result.error
    assert result.certificate is not None and result.certificate.issuer == "CODE test CA"


async def test_expired_certificate_is_reported_with_its_expiry(expired_tls: TlsServer) -> None:
    check = _checker([expired_tls.url], ca_file=expired_tls.ca_file)
    try:
        [result] = (await check.check([expired_tls.url + "/"])).results
    finally:
        await check.aclose()
    assert not result.ok and "expired" in result.error
    assert result.certificate is not None and result.certificate.days_left < -1


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/",
        "http://[::ffff:169.254.169.254]/",
        "http://0x7f.1/",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1/",
        "http://127.0.0.1:1/",
        "http://localhost/",
        "https://example.com/",
    ],
)
async def test_urls_the_policy_refuses_are_never_fetched(checker: HealthChecker, url: str) -> None:
    with pytest.raises(InvalidArgument):
        await checker.check([url])


async def test_one_refused_url_refuses_the_whole_call(checker: HealthChecker, tls: TlsServer) -> None:
    with pytest.raises(InvalidArgument, match="allowlist"):
        await checker.check([tls.url + "/", "http://10.0.0.1/"])


async def test_limits_on_the_request(checker: HealthChecker, tls: TlsServer) -> None:
    with pytest.raises(InvalidArgument, match="at least one"):
        await checker.check([])
    with pytest.raises(InvalidArgument, match="at most 5"):
        await checker.check([tls.url + "/"] * 6)


async def test_no_allowlist_means_nothing_is_allowed(tls: TlsServer) -> None:
    check = _checker([])
    try:
        with pytest.raises(InvalidArgument, match="no URLs are allowed"):
            await check.check([tls.url + "/"])
    finally:
        await check.aclose()
