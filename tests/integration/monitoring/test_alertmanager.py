"""The Alertmanager read tools through a real MCP client session, against the real Alertmanager of the
stack: alerts sent by Prometheus's rules, routed to three receivers, one of them inhibited."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.integration.monitoring.calls import call, error_of, session, suite_config
from tests.integration.monitoring.prom_stack import AM_ALERTS, PromStack
from tests.support.pages import rows
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
async def client(tmp_path: Path, prom_stack: PromStack) -> AsyncIterator[Client]:
    async with session(tmp_path, suite_config(prom_stack)) as c:
        yield c


def names(page: dict[str, object]) -> Counter[str]:
    return Counter(a["name"] for a in rows(page))  # type: ignore[attr-defined]


async def test_alerts_are_listed_with_their_routing(client: Client) -> None:
    every = await call(client, "am_alerts", {"matchers": ['alertname=~"AlwaysFiring|CodeShardHot|Inh.*"']})
    assert names(every) == Counter(AM_ALERTS)
    first = rows(every)[0]
    assert first["name"] == "AlwaysFiring" and first["state"] == "active"  # notifying ones come first
    assert first["receivers"] == ["code-pager"] and first["labels"]["severity"] == "page"
    assert first["starts_at"] and first["active_for_seconds"] >= 0
    assert "[REDACTED]" in first["annotations"]["description"]  # password=… in the rule's annotation
    tickets = await call(client, "am_alerts", {"receiver": "code-tickets"})
    assert names(tickets) == Counter({"CodeShardHot": 5})


async def test_state_filters(client: Client) -> None:
    inhibited = await call(client, "am_alerts", {"inhibited": True})
    [muted] = rows(inhibited)
    assert muted["name"] == "InhibitedByAlwaysFiring" and muted["state"] == "suppressed"
    assert muted["inhibited_by"] and muted["receivers"] == ["code-null"]
    active = await call(client, "am_alerts", {"active": True, "matchers": ['alertname=~"Inh.*|Always.*"']})
    assert names(active) == Counter({"AlwaysFiring": 1})
    not_inhibited = await call(client, "am_alerts", {"inhibited": False, "receiver": "code-null"})
    assert "InhibitedByAlwaysFiring" not in names(not_inhibited)


async def test_matchers_in_both_forms(client: Client) -> None:
    one = await call(client, "am_alerts", {"matchers": ['{alertname="CodeShardHot", shard=~"s000[12]"}']})
    assert sorted(a["labels"]["shard"] for a in rows(one)) == ["s0001", "s0002"]
    two = await call(client, "am_alerts", {"matchers": ["alertname = CodeShardHot", 'shard!="s0000"']})
    assert len(rows(two)) == 4


async def test_alerts_page_with_a_cursor(client: Client) -> None:
    first = await call(client, "am_alerts", {"receiver": "code-tickets", "limit": 2})
    assert len(rows(first)) == 2 and first["next_cursor"]
    rest = await call(
        client, "am_alerts", {"receiver": "code-tickets", "limit": 10, "cursor": first["next_cursor"]}
    )
    assert len(rows(rest)) == 3
    stolen = await error_of(client, "am_alerts", {"receiver": "code-null", "cursor": first["next_cursor"]})
    assert "cursor" in stolen


async def test_alert_groups_follow_group_by(client: Client) -> None:
    groups = await call(client, "am_alert_groups")
    shards = next(g for g in rows(groups) if g["labels"] == {"alertname": "CodeShardHot"})
    assert shards["receiver"] == "code-tickets" and shards["alerts_total"] == 5
    assert shards["states"] == {"active": 5} and len(shards["alerts"]) == 5
    assert rows(groups)[0]["alerts_total"] == 5  # biggest group first


async def test_receivers_show_kinds_and_routes_never_credentials(client: Client) -> None:
    receivers = await call(client, "am_receivers")
    by_name = {r["name"]: r for r in rows(receivers)}
    assert set(by_name) == {"code-null", "code-pager", "code-tickets"}
    assert by_name["code-pager"]["integrations"] == ["webhook"]
    assert by_name["code-pager"]["routes"] == ['{severity="page"}']
    assert by_name["code-null"]["routes"] == ["(root)"]
    assert "webhook-secret-token" not in json.dumps(receivers)


async def test_status_summarises_the_configuration(client: Client) -> None:
    status = await call(client, "am_status")
    assert status["version"].startswith("0.") and status["cluster_status"] == "disabled"
    assert status["root_receiver"] == "code-null" and status["group_by"] == ["alertname"]
    assert (status["routes"], status["receivers"], status["inhibit_rules"]) == (2, 3, 1)
    assert "webhook-secret-token" not in json.dumps(status)


async def test_several_alertmanagers_and_a_dead_one(tmp_path: Path, prom_stack: PromStack) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    config = suite_config(prom_stack)
    config["monitoring"]["alertmanagers"]["dead"] = {"url": dead, "retries": 1, "timeout_s": 1}
    config["monitoring"]["default_alertmanager"] = "local"
    async with session(tmp_path, config) as c:
        status = await call(c, "am_status")
        assert status["alertmanager"] == "local" and status["others"] == ["dead"]
        with anyio.fail_after(15):
            message = await error_of(c, "am_alerts", {"alertmanager": "dead"})
        assert "failed after 2 attempt(s)" in message and dead in message
        unknown = await error_of(c, "am_alerts", {"alertmanager": "prod"})
        assert "unknown Alertmanager 'prod'" in unknown and "dead, local" in unknown


async def test_bad_matchers_and_no_alertmanager(client: Client, tmp_path: Path) -> None:
    for bad in ['alertname~"x"', '9bad="x"', 'alertname="unterminated', '{alertname="x"']:
        message = await error_of(client, "am_alerts", {"matchers": [bad]})
        assert "matcher" in message, message
    invalid_regex = await error_of(client, "am_alerts", {"matchers": ['alertname=~"("']})
    assert "Alertmanager 'local' refused the request" in invalid_regex
    async with session(tmp_path / "none", {}) as bare:
        assert "configured Alertmanagers: none" in await error_of(bare, "am_status")
