"""The Redis plan store against a real redis-server: the in-memory store's contract, fleet-wide."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from servers.deployment.plan_ops import StoredPlan, plan_hash
from servers.deployment.plan_store_redis import RedisPlanStore
from shared.errors import InvalidArgument, NotFound, PermissionDenied, UpstreamUnavailable
from shared.settings import RedisSettings
from tests.integration.scale.redis_service import RedisServer
from tests.support.services import free_port, wait_until

pytestmark = pytest.mark.integration

BODIES: list[dict[str, Any]] = [
    {
        "body": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}},
        "force": False,
        "apiVersion": "v1",
    },
    {"body": {"kind": "Deployment", "spec": {"replicas": 2, "ratio": 0.5}}, "force": True, "apiVersion": "x"},
]


def settings_for(url: str) -> RedisSettings:
    return RedisSettings.model_validate({"url": url, "timeout_s": 2})


@pytest.fixture
def client(redis_srv: RedisServer) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_srv.url)
    yield conn
    conn.close()


def store_for(srv: RedisServer, *, ttl_s: float = 60, max_plans: int = 10) -> RedisPlanStore:
    return RedisPlanStore(settings_for(srv.url), ttl_s=ttl_s, max_plans=max_plans)


def add(store: RedisPlanStore, owner: str = "alice", bodies: list[dict[str, Any]] = BODIES) -> StoredPlan:
    return store.add(sha256=plan_hash("ctx", bodies), context="ctx", owner=owner, bodies=bodies)


def test_a_plan_made_by_one_replica_is_taken_once_by_another(
    redis_srv: RedisServer, client: redis.Redis
) -> None:
    replica_a, replica_b = store_for(redis_srv), store_for(redis_srv)
    plan = add(replica_a)

    raw = client.get(replica_a.plan_key(plan.plan_id))
    assert raw is not None and json.loads(raw)["owner"] == "alice"
    assert 0 < client.pttl(replica_a.plan_key(plan.plan_id)) <= 60_000
    taken = replica_b.take(plan.plan_id, owner="alice")

    assert (taken.plan_id, taken.sha256, taken.context, taken.owner) == (
        plan.plan_id,
        plan.sha256,
        "ctx",
        "alice",
    )
    assert list(taken.bodies) == BODIES
    assert taken.expires_at == pytest.approx(plan.expires_at, abs=1)
    for store in (replica_a, replica_b):
        with pytest.raises(NotFound, match="already applied"):
            store.take(plan.plan_id, owner="alice")
    assert client.keys("*") == []  # nothing left behind: plan and owner index are gone


def test_another_caller_is_refused_and_the_plan_survives(redis_srv: RedisServer) -> None:
    store = store_for(redis_srv)
    plan = add(store)

    with pytest.raises(PermissionDenied, match="another caller"):
        store.take(plan.plan_id, owner="mallory")

    assert store.take(plan.plan_id, owner="alice").sha256 == plan.sha256


def test_only_one_of_many_concurrent_takes_wins(redis_srv: RedisServer) -> None:
    stores = [store_for(redis_srv) for _ in range(4)]
    plan = add(stores[0])

    def attempt(index: int) -> str:
        try:
            stores[index % 4].take(plan.plan_id, owner="alice")
        except NotFound:
            return "refused"
        return "taken"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(16)))

    assert sorted(outcomes) == ["refused"] * 15 + ["taken"]


def test_an_expired_plan_is_gone(redis_srv: RedisServer, client: redis.Redis) -> None:
    store = store_for(redis_srv, ttl_s=0.05)
    plan = add(store)
    wait_until(
        lambda: client.exists(store.plan_key(plan.plan_id)) == 0, timeout=10, what="Redis to expire the plan"
    )

    with pytest.raises(NotFound, match="unknown"):
        store.take(plan.plan_id, owner="alice")


def test_a_replica_clock_ahead_of_redis_refuses_as_expired(redis_srv: RedisServer) -> None:
    store = store_for(redis_srv)
    plan = add(store)
    store.clock = lambda: plan.expires_at + 1  # this replica's wall clock is ahead of the Redis server

    with pytest.raises(InvalidArgument, match="expired"):
        store.take(plan.plan_id, owner="alice")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda plan: {**plan, "bodies": [{**BODIES[0], "force": True}, BODIES[1]]},
        lambda plan: {**plan, "context": "other"},
        lambda plan: {**plan, "sha256": "0" * 64},
        lambda plan: {k: v for k, v in plan.items() if k != "bodies"},
        lambda plan: {**plan, "bodies": "not a list"},
    ],
)
def test_altered_plans_are_refused(redis_srv: RedisServer, client: redis.Redis, tamper: Any) -> None:
    store = store_for(redis_srv)
    plan = add(store)
    key = store.plan_key(plan.plan_id)
    raw = client.get(key)
    assert raw is not None
    client.set(key, json.dumps(tamper(json.loads(raw))), keepttl=True)

    with pytest.raises(PermissionDenied, match="does not match its hash"):
        store.take(plan.plan_id, owner="alice")


def test_a_value_that_is_not_a_plan_is_nobodys(redis_srv: RedisServer, client: redis.Redis) -> None:
    store = store_for(redis_srv)
    plan = add(store)
    client.set(store.plan_key(plan.plan_id), b"\xff not json", keepttl=True)

    with pytest.raises(PermissionDenied, match="another caller"):
        store.take(plan.plan_id, owner="alice")
    assert client.exists(store.plan_key(plan.plan_id)) == 1


def test_each_caller_keeps_at_most_max_plans(redis_srv: RedisServer, client: redis.Redis) -> None:
    store = store_for(redis_srv, max_plans=2)
    first, second, third = add(store), add(store), add(store)
    bobs = add(store, owner="bob")

    assert client.exists(store.plan_key(first.plan_id)) == 0
    with pytest.raises(NotFound):
        store.take(first.plan_id, owner="alice")
    assert store.take(second.plan_id, owner="alice").plan_id == second.plan_id
    assert store.take(third.plan_id, owner="alice").plan_id == third.plan_id
    assert store.take(bobs.plan_id, owner="bob").plan_id == bobs.plan_id


@pytest.mark.parametrize(
    "plan_id",
    [
        "",
        "*",
        "plan-*",
        "plan-../../../etc/pa",
        "plan-AAAAAAAAAAAAAAAA:x",
        "plan-AAAAAAAAAAAAAAAA\n",
        "{plans}:owner:abc",
        "plan-" + "A" * 5000,
        "plan-ÄAAAAAAAAAAAAAAA",
    ],
)
def test_hostile_ids_are_unknown_and_touch_nothing(
    redis_srv: RedisServer, client: redis.Redis, plan_id: str
) -> None:
    store = store_for(redis_srv)
    plan = add(store)
    before = sorted(client.keys("*"))

    with pytest.raises(NotFound, match="unknown") as refused:
        store.take(plan_id, owner="alice")

    assert len(str(refused.value)) < 200
    assert sorted(client.keys("*")) == before
    assert store.take(plan.plan_id, owner="alice").plan_id == plan.plan_id


def test_a_nul_in_the_id_is_refused(redis_srv: RedisServer) -> None:
    with pytest.raises(InvalidArgument, match="NUL"):
        store_for(redis_srv).take("plan-AAAAAAAA\x00AAAAAAA", owner="alice")


def test_unstorable_values_are_refused(redis_srv: RedisServer) -> None:
    bodies = [{"body": {"spec": {"x": float("nan")}}}]
    with pytest.raises(InvalidArgument, match="cannot be stored"):
        store_for(redis_srv).add(sha256="h", context="c", owner="a", bodies=bodies)


def test_redis_down_is_a_clear_error_not_a_local_fallback(redis_srv: RedisServer) -> None:
    store = store_for(redis_srv)
    plan = add(store)
    redis_srv.kill()

    with pytest.raises(UpstreamUnavailable, match=r"plan store \(Redis\) is unreachable"):
        store.take(plan.plan_id, owner="alice")
    with pytest.raises(UpstreamUnavailable, match="nothing was planned or applied"):
        add(store)


def test_a_redis_that_never_ran_is_a_clear_error() -> None:
    store = RedisPlanStore(settings_for(f"redis://127.0.0.1:{free_port()}/0"), ttl_s=60, max_plans=10)
    try:
        with pytest.raises(UpstreamUnavailable, match="unreachable"):
            store.add(sha256="h", context="c", owner="a", bodies=[])
    finally:
        store.close()


@pytest.mark.parametrize("owner", ["ålice 🙂", 'a"b\\c', "x:{plans}:y\n", "", "o" * 10_000])
def test_any_subject_owns_its_plans(redis_srv: RedisServer, owner: str) -> None:
    store = store_for(redis_srv)
    plan = add(store, owner=owner)

    with pytest.raises(PermissionDenied):
        store.take(plan.plan_id, owner=owner + "x")
    assert store.take(plan.plan_id, owner=owner).owner == owner
