"""Silences against the real Alertmanager: the plan shown before, creation in the caller's name,
refusals of silences of everything, and who may expire what.

Every test silences only `CodeShardHot` alerts of its own shards and expires what it created, so the
other tests sharing the session's Alertmanager see the alerts they expect.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from servers.monitoring import silence_ops
from servers.monitoring.am_client import AlertmanagerClient
from servers.monitoring.settings import AlertmanagerEndpoint
from shared.auth import hash_api_key
from shared.errors import InvalidArgument, NotFound, PermissionDenied
from shared.ownership import OwnershipLedger
from tests.integration.monitoring.calls import call, error_of, session, suite_config
from tests.integration.monitoring.prom_stack import PromStack
from tests.support.connect import Connector
from tests.support.pages import rows

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

SHARDS_0_1 = ['alertname="CodeShardHot"', 'shard=~"s000[01]"']


def write_config(stack: PromStack, role: str = "admin", **monitoring: Any) -> dict[str, Any]:
    config = suite_config(stack, **monitoring)
    config["role"] = role
    config["policy"]["tiers"] = {"monitoring": "write"}
    return config


@pytest.fixture
async def admin(tmp_path: Path, prom_stack: PromStack) -> AsyncIterator[Client]:
    async with session(tmp_path, write_config(prom_stack, silence_max_duration_s=7200)) as c:
        yield c


async def am_silences(stack: PromStack) -> list[dict[str, Any]]:
    """The silences not yet expired, straight from Alertmanager's API."""
    async with httpx.AsyncClient(timeout=5) as http:
        silences = (await http.get(f"{stack.alertmanager}/api/v2/silences")).json()
    return [s for s in silences if s["status"]["state"] != "expired"]


async def test_dry_run_shows_what_would_be_silenced(admin: Client, prom_stack: PromStack) -> None:
    before = len(await am_silences(prom_stack))
    result = await call(admin, "am_silence_create", {
        "matchers": SHARDS_0_1, "duration": "30m", "comment": "disk swap on shards 0-1", "dry_run": True,
    })  # fmt: skip
    plan = result["plan"]
    assert result["created"] is False and result["silence_id"] is None
    assert plan["alerts_matched"] == 2 and plan["alert_names"] == {"CodeShardHot": 2}
    assert sorted(e["labels"]["shard"] for e in plan["examples"]) == ["s0000", "s0001"]
    assert plan["matchers"] == ['alertname="CodeShardHot"', 'shard=~"s000[01]"']
    assert plan["duration_seconds"] == 1800 and plan["created_by"]
    assert len(await am_silences(prom_stack)) == before  # nothing was created


async def test_create_list_and_expire(admin: Client, prom_stack: PromStack) -> None:
    created = await call(admin, "am_silence_create", {
        "matchers": ['alertname="CodeShardHot"', 'shard="s0002"'], "duration": "1h",
        "comment": "replacing the disk of shard 2",
    })  # fmt: skip
    silence_id = created["silence_id"]
    assert created["created"] and created["plan"]["alerts_matched"] == 1
    try:
        muted = await call(admin, "am_alerts", {"silenced": True, "matchers": ['alertname="CodeShardHot"']})
        [alert] = rows(muted)
        assert alert["labels"]["shard"] == "s0002" and alert["silenced_by"] == [silence_id]
        assert alert["state"] == "suppressed"
        listed = await call(admin, "am_silences", {"state": "active"})
        mine = next(s for s in rows(listed) if s["id"] == silence_id)
        assert mine["created_here"] is True and mine["comment"] == "replacing the disk of shard 2"
        assert mine["created_by"] == created["plan"]["created_by"]
        assert 3500 < mine["ends_in_seconds"] <= 3600
        again = await call(admin, "am_silence_create", {
            "matchers": ['alertname="CodeShardHot"', 'shard=~"s000[23]"'], "duration": "5m",
            "comment": "overlap", "dry_run": True,
        })  # fmt: skip
        assert again["plan"]["alerts_matched"] == 2 and again["plan"]["already_silenced"] == 1
    finally:
        expired = await call(admin, "am_silence_expire", {"id": silence_id})
    assert expired["previous_state"] == "active"
    assert expired["matchers"] == ['alertname="CodeShardHot"', 'shard="s0002"']
    after = await call(admin, "am_alerts", {"silenced": True, "matchers": ['alertname="CodeShardHot"']})
    assert rows(after) == []
    assert "already ended" in await error_of(admin, "am_silence_expire", {"id": silence_id})


@pytest.mark.parametrize(
    "matchers",
    [
        ["{}"],
        ['alertname=~".*"'],
        ['alertname=~".+"'],
        ['alertname!=""'],
        ['severity!~""'],
        ['alertname=~".*|x"'],
        ['alertname=~"^.*$"', 'severity=~"(|.+)"'],
        ['{alertname=~"[\\\\s\\\\S]*", job!=""}'],
        ['instance=~".?.*"', 'team!~"^$"'],
    ],
)
async def test_silences_of_everything_are_refused(
    admin: Client, prom_stack: PromStack, matchers: list[str]
) -> None:
    before = len(await am_silences(prom_stack))
    message = await error_of(
        admin, "am_silence_create", {"matchers": matchers, "duration": "10m", "comment": "x"}
    )
    assert "silence" in message and ("every" in message or "needs matchers" in message), message
    assert len(await am_silences(prom_stack)) == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"matchers": ['alertname=~"(?i).*"']}, "cannot check what this regex matches"),
        ({"matchers": ['alertname=~"x{1,99}"']}, "repetition count"),
        ({"matchers": ['alertname="x"} or {a="b"']}, "text after the closing quote"),
        ({"matchers": ['alertname=x"} or {a="b"']}, "quote a value"),
        ({"matchers": ['alertname="CodeShardHot"'], "duration": "3h"}, "longer than the 2h"),
        ({"matchers": ['alertname="CodeShardHot"'], "duration": "-5m"}, "duration"),
        ({"matchers": ['alertname="CodeShardHot"'], "comment": "  "}, "say why in comment"),
        ({"matchers": ['alertname="CodeShardHot"'], "comment": "bell\x07"}, "printable"),
        ({"matchers": ['alertname="CodeShardHot"'], "alertmanager": "../../x"}, "unknown Alertmanager"),
    ],
)
async def test_bad_silences_are_refused(admin: Client, args: dict[str, Any], expected: str) -> None:
    message = await error_of(admin, "am_silence_create", {"duration": "10m", "comment": "test", **args})
    assert expected in message, message


@pytest.mark.parametrize("bad_id", ["../../status", "x", "0" * 36, "12345678-1234-1234-1234-12345678901"])
async def test_expire_refuses_what_is_not_a_silence_id(admin: Client, bad_id: str) -> None:
    assert "is not a silence id" in await error_of(admin, "am_silence_expire", {"id": bad_id})


async def test_expire_of_an_unknown_silence(admin: Client) -> None:
    message = await error_of(admin, "am_silence_expire", {"id": "00000000-0000-4000-8000-000000000000"})
    assert "no silence" in message and "am_silences" in message


async def test_read_role_cannot_write(tmp_path: Path, prom_stack: PromStack) -> None:
    config = write_config(prom_stack, role="reader")
    config["policy"]["roles"] = {"reader": ["monitoring:read"]}
    async with session(tmp_path, config) as c:
        message = await error_of(c, "am_silence_create", {
            "matchers": ['alertname="CodeShardHot"'], "duration": "5m", "comment": "x",
        })  # fmt: skip
    assert "monitoring:write" in message


async def test_write_tools_exist_only_at_the_write_tier(
    admin: Client, tmp_path: Path, prom_stack: PromStack
) -> None:
    tools = {t.name: t for t in (await admin.list_tools()).tools}
    create, expire = tools["am_silence_create"].annotations, tools["am_silence_expire"].annotations
    assert create is not None and create.read_only_hint is False and create.destructive_hint is False
    assert expire is not None and expire.destructive_hint is True and expire.idempotent_hint is True
    async with session(tmp_path / "read", {**suite_config(prom_stack), "role": "admin"}) as reader:
        names = {t.name for t in (await reader.list_tools()).tools}
    assert "am_silences" in names and not {"am_silence_create", "am_silence_expire"} & names


# ---------------------------------------------------------------- who may expire what (domain logic)


@pytest.fixture
async def am(prom_stack: PromStack) -> AsyncIterator[AlertmanagerClient]:
    client = AlertmanagerClient(
        "local", AlertmanagerEndpoint(url=prom_stack.alertmanager), max_response_bytes=2**22
    )
    try:
        yield client
    finally:
        await client.aclose()


async def _create(am: AlertmanagerClient, ledger: OwnershipLedger, who: str, shard: str) -> str:
    plan = await silence_ops.plan_silence(
        am, ['alertname="CodeShardHot"', f'shard="{shard}"'], "10m", "test", created_by=who,
        max_duration_s=3600, now=time.time(),
    )  # fmt: skip
    result = await silence_ops.create_silence(am, plan, ledger)
    assert result.silence_id is not None
    return result.silence_id


async def test_only_the_creator_or_an_admin_may_expire(am: AlertmanagerClient, tmp_path: Path) -> None:
    ledger = OwnershipLedger(tmp_path / "silences.json")
    alices = await _create(am, ledger, "alice", "s0003")
    with pytest.raises(PermissionDenied, match="created by another caller"):
        await silence_ops.expire_silence(am, alices, caller="bob", admin=False, ledger=ledger)
    # The ledger survives a restart (its file), and is private.
    reloaded = OwnershipLedger(tmp_path / "silences.json")
    assert reloaded.owner_of(silence_ops.silence_key("local", alices)) == "alice"
    assert (tmp_path / "silences.json").stat().st_mode & 0o777 == 0o600
    done = await silence_ops.expire_silence(am, alices, caller="alice", admin=False, ledger=reloaded)
    assert done.previous_state == "active"
    bobs = await _create(am, ledger, "bob", "s0004")
    await silence_ops.expire_silence(am, bobs.upper(), caller="admin-person", admin=True, ledger=ledger)


async def test_a_silence_made_elsewhere_is_only_an_admins(
    am: AlertmanagerClient, prom_stack: PromStack
) -> None:
    """createdBy is free text: a silence claiming to be alice's but not made here stays refused."""
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 600))
    matcher = {"name": "shard", "value": "s0001", "isRegex": False, "isEqual": True}
    body = {
        "matchers": [matcher],
        "startsAt": start,
        "endsAt": end,
        "createdBy": "alice",
        "comment": "amtool",
    }
    async with httpx.AsyncClient(timeout=5) as http:
        made = (await http.post(f"{prom_stack.alertmanager}/api/v2/silences", json=body)).json()["silenceID"]
    ledger = OwnershipLedger()
    with pytest.raises(PermissionDenied, match="not created through this server"):
        await silence_ops.expire_silence(am, made, caller="alice", admin=False, ledger=ledger)
    await silence_ops.expire_silence(am, made, caller="root", admin=True, ledger=ledger)
    with pytest.raises(InvalidArgument, match="already ended"):
        await silence_ops.expire_silence(am, made, caller="root", admin=True, ledger=ledger)
    with pytest.raises(NotFound):
        await silence_ops.expire_silence(am, "0badc0de-0000-4000-8000-000000000000", caller="r", admin=True,
                                         ledger=ledger)  # fmt: skip


# ------------------------------------------------ two operators over HTTP (needs monitoring:write)

API_KEYS = {"alice": "cmk_alice_key_0123456789", "bob": "cmk_bob_key_0123456789abc"}


async def test_two_operators_over_http(tmp_path: Path, prom_stack: PromStack) -> None:
    """The default operator role creates silences; each operator expires only their own."""
    config = write_config(prom_stack, role="viewer")
    config["auth"] = {"api_keys": [{"id": who, "sha256": hash_api_key(key), "role": "operator"}
                                   for who, key in API_KEYS.items()]}  # fmt: skip
    connector = Connector("http", tmp_path)
    async with (
        connector.serve("monitoring", config) as served,
        connector.client(served, "monitoring", token=API_KEYS["alice"]) as alice,
        connector.client(served, "monitoring", token=API_KEYS["bob"]) as bob,
    ):
        created = await call(alice, "am_silence_create", {
            "matchers": ['alertname="CodeShardHot"', 'shard="s0000"'], "duration": "5m", "comment": "x",
        })  # fmt: skip
        assert created["plan"]["created_by"] == "alice"
        refused = await error_of(bob, "am_silence_expire", {"id": created["silence_id"]})
        assert "created by another caller" in refused
        await call(alice, "am_silence_expire", {"id": created["silence_id"]})
