"""`[deployment] plan_store` picks where plans wait; "redis" is refused without the fleet's Redis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servers.deployment.plan_ops import PlanStore
from servers.deployment.plan_store_redis import RedisPlanStore, plan_store
from servers.deployment.server import build_server
from servers.deployment.settings import DeploymentSettings
from shared.errors import ConfigError
from shared.settings import SuiteConfig


def store_from(data: dict[str, Any]) -> PlanStore | RedisPlanStore:
    config = SuiteConfig.model_validate(data)
    return plan_store(config, config.section("deployment", DeploymentSettings))


def test_memory_is_the_default() -> None:
    store = store_from({"deployment": {"plan_ttl_s": 30, "max_plans": 7}})

    assert isinstance(store, PlanStore)
    assert (store.ttl_s, store.max_plans) == (30, 7)


def test_redis_uses_the_fleets_redis_without_connecting_yet() -> None:
    redis = {"url": "redis://127.0.0.1:1/0", "prefix": "fleet-a"}
    store = store_from({"deployment": {"plan_store": "redis", "max_plans": 3}, "redis": redis})

    assert isinstance(store, RedisPlanStore)
    assert store.max_plans == 3
    assert store.plan_key("plan-x").startswith("fleet-a:{plans}:plan:")
    store.close()


def test_the_url_may_come_from_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "redis-url"
    secret.write_text("redis://:hunter2@127.0.0.1:1/0\n")
    store = store_from({"deployment": {"plan_store": "redis"}, "redis": {"url_file": str(secret)}})

    assert isinstance(store, RedisPlanStore)
    store.close()


@pytest.mark.parametrize(
    ("redis", "message"),
    [
        ({}, r"needs the fleet's Redis in \[redis\]"),
        ({"prefix": "fleet"}, r"needs the fleet's Redis in \[redis\]"),
        ({"url_file": "/nonexistent/redis-url"}, "url_file"),
        ({"url": "http://127.0.0.1:6379/"}, "redis://, rediss:// or unix://"),
        ({"url": "redis://:hunter2@127.0.0.1:notaport/0"}, "not a valid Redis URL"),
    ],
)
def test_redis_without_a_usable_redis_is_refused(redis: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as refused:
        store_from({"deployment": {"plan_store": "redis"}, "redis": redis})

    assert "plan_store = 'redis'" in str(refused.value)
    assert "hunter2" not in str(refused.value)


def test_an_unknown_store_is_refused() -> None:
    config = SuiteConfig.model_validate({"deployment": {"plan_store": "disk"}})

    with pytest.raises(ConfigError, match="plan_store"):
        config.section("deployment", DeploymentSettings)


def test_the_server_refuses_to_start_with_an_unusable_plan_store() -> None:
    config = SuiteConfig.model_validate(
        {"deployment": {"plan_store": "redis", "docker_host": "unix:///nonexistent/docker.sock"}}
    )

    with pytest.raises(ConfigError, match="plan_store = 'redis'"):
        build_server(config)
