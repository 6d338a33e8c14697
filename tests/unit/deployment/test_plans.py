"""Plans: manifests parsed strictly, hashes bound to content, plans expire and are single-use."""

from __future__ import annotations

from typing import Any

import pytest

from servers.deployment.k8s_views import clean_object, rollout_state
from servers.deployment.plan_ops import PlanStore, object_diff, parse_manifests, plan_hash
from shared.errors import InvalidArgument, NotFound, PermissionDenied

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  resourceVersion: "42"
  uid: abc
  managedFields: []
spec:
  replicas: 2
status:
  replicas: 9
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {a: "1"}
"""


def parse(text: str, **limits: int) -> list[dict[str, Any]]:
    return parse_manifests(
        text, max_bytes=limits.get("max_bytes", 100_000), max_objects=limits.get("max_objects", 10)
    )


class FakeClock:
    """A monotonic clock the test moves by hand (plans expire on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_manifests_lose_the_fields_the_server_owns() -> None:
    deployment, config_map = parse(DEPLOYMENT)

    assert deployment["metadata"] == {"name": "web"}
    assert "status" not in deployment
    assert config_map["data"] == {"a": "1"}


def test_a_list_is_expanded() -> None:
    item = '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}'
    text = '{"apiVersion": "v1", "kind": "List", "items": [' + item + "]}"

    assert [o["metadata"]["name"] for o in parse(text)] == ["a"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no objects"),
        ("a: [", "not valid YAML"),
        ("- just\n- a list\n", "not a mapping"),
        ("kind: ConfigMap\nmetadata: {name: a}\n", "no apiVersion"),
        ("apiVersion: v1\nmetadata: {name: a}\n", "no kind"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: a-}\n", "needs metadata.name"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../etc}\n", "not a valid Kubernetes name"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: A_B}\n", "not a valid Kubernetes name"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n\x00", "NUL"),
        ("!!python/object/apply:os.system ['id']", "tag !!python/object/apply:os.system .* is not allowed"),
        ("apiVersion: v1\nkind: SecretList\nitems: {a: 1}\n", "items must be a list"),
        (
            "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: List, items: []}\n",
            "list inside a list",
        ),
    ],
)
def test_bad_manifests_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        parse(text)


def test_size_and_count_limits() -> None:
    many = "\n---\n".join(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}" for i in range(5))

    with pytest.raises(InvalidArgument, match="more than 3 YAML documents"):
        parse(many, max_objects=3)
    listed = "apiVersion: v1\nkind: List\nitems:\n" + "".join(
        f"- {{apiVersion: v1, kind: ConfigMap, metadata: {{name: c{i}}}}}\n" for i in range(5)
    )
    with pytest.raises(InvalidArgument, match="at most 3 objects"):
        parse(listed, max_objects=3)
    with pytest.raises(InvalidArgument, match="limit of 100"):
        parse(many, max_bytes=100)


def test_typed_lists_are_split_into_their_items() -> None:
    """A SecretList or RoleBindingList is planned item by item, so each item meets its kind's rules."""
    text = (
        "apiVersion: v1\nkind: SecretList\nitems:\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: a}, stringData: {k: v}}\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: b}}\n"
    )
    assert [(o["kind"], o["metadata"]["name"]) for o in parse(text)] == [("Secret", "a"), ("Secret", "b")]


def test_an_alias_never_makes_two_bodies_share_a_subtree() -> None:
    text = (
        "apiVersion: v1\nkind: List\nitems:\n"
        "- {apiVersion: v1, kind: ConfigMap, metadata: {name: a, labels: &l {x: y}}}\n"
        "- {apiVersion: v1, kind: Secret, metadata: {name: b, labels: *l}}\n"
    )
    first, second = parse(text)
    first["metadata"]["labels"]["x"] = "changed"
    assert second["metadata"]["labels"] == {"x": "y"}


@pytest.mark.parametrize("levels", [9, 12])
def test_an_alias_bomb_is_refused_quickly_with_a_clear_error(levels: int) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join(['*a' + str(i - 1)] * 9)}]" for i in range(1, levels)]
    with pytest.raises(InvalidArgument, match="nodes"):
        parse("\n".join(lines))


def test_a_deep_document_is_refused_with_a_clear_error() -> None:
    for deep in ("a: " + "[" * 5000 + "]" * 5000, "a:\n" + "".join("  " * i + "- \n" for i in range(300))):
        with pytest.raises(InvalidArgument, match="nest"):
            parse(deep)


def test_the_hash_binds_context_content_and_order() -> None:
    a = [{"kind": "ConfigMap", "data": {"x": "1"}}, {"kind": "Service"}]
    base = plan_hash("ctx", a)

    assert plan_hash("ctx", [dict(a[0]), dict(a[1])]) == base
    assert plan_hash("other", a) != base
    assert plan_hash("ctx", list(reversed(a))) != base
    assert plan_hash("ctx", [{"kind": "ConfigMap", "data": {"x": "2"}}, {"kind": "Service"}]) != base


def test_a_plan_is_taken_once_by_its_owner_before_it_expires() -> None:
    clock = FakeClock()
    store = PlanStore(ttl_s=60, max_plans=10, clock=clock)
    plan = store.add(sha256="h", context="c", owner="alice", bodies=[{"a": 1}])

    with pytest.raises(PermissionDenied, match="another caller"):
        store.take(plan.plan_id, owner="mallory")
    taken = store.take(plan.plan_id, owner="alice")

    assert taken.bodies == ({"a": 1},)
    with pytest.raises(NotFound, match="already applied"):
        store.take(plan.plan_id, owner="alice")


def test_an_expired_plan_is_refused_and_forgotten() -> None:
    clock = FakeClock()
    store = PlanStore(ttl_s=60, max_plans=10, clock=clock)
    plan = store.add(sha256="h", context="c", owner="alice", bodies=[])
    clock.now += 61

    with pytest.raises(InvalidArgument, match="expired"):
        store.take(plan.plan_id, owner="alice")
    with pytest.raises(NotFound):
        store.take(plan.plan_id, owner="alice")


def test_the_store_is_bounded_and_drops_expired_plans_first() -> None:
    clock = FakeClock()
    store = PlanStore(ttl_s=60, max_plans=2, clock=clock)
    old = store.add(sha256="1", context="c", owner="a", bodies=[])
    clock.now += 61
    store.add(sha256="2", context="c", owner="a", bodies=[])
    second = store.add(sha256="3", context="c", owner="a", bodies=[])
    third = store.add(sha256="4", context="c", owner="a", bodies=[])

    assert len(store) == 2
    with pytest.raises(NotFound):
        store.take(old.plan_id, owner="a")
    assert store.take(second.plan_id, owner="a").sha256 == "3"
    assert store.take(third.plan_id, owner="a").sha256 == "4"


def test_stored_bodies_are_copies() -> None:
    store = PlanStore(ttl_s=60, max_plans=2)
    body = {"metadata": {"name": "a"}}
    plan = store.add(sha256="h", context="c", owner="a", bodies=[body])
    body["metadata"]["name"] = "changed"

    assert store.take(plan.plan_id, owner="a").bodies[0]["metadata"]["name"] == "a"


def test_a_diff_shows_changes_without_server_noise() -> None:
    live = {
        "kind": "ConfigMap",
        "metadata": {"name": "a", "resourceVersion": "1", "uid": "u", "managedFields": [{"m": 1}]},
        "data": {"x": "1"},
    }
    planned = {**live, "metadata": {**live["metadata"], "resourceVersion": "2"}, "data": {"x": "2"}}

    diff = object_diff(live, planned, "ConfigMap/default/a")

    assert "-  x: '1'" in diff and "+  x: '2'" in diff
    assert "resourceVersion" not in diff and "managedFields" not in diff and "uid" not in diff
    assert object_diff(live, live, "x") == ""


def test_secret_values_never_appear_in_a_diff() -> None:
    live = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "aHVudGVyMg=="}}
    planned = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "c3dvcmRmaXNo"}}

    diff = object_diff(live, planned, "Secret/default/s")

    assert "aHVudGVyMg==" not in diff and "c3dvcmRmaXNo" not in diff
    assert "-  password: '<redacted: 12 chars" in diff and "+  password: '<redacted: 12 chars" in diff


def test_clean_object_strips_managed_fields_and_redacts_secrets() -> None:
    secret = {
        "kind": "Secret",
        "metadata": {
            "name": "s",
            "managedFields": [{"manager": "x"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"data":{"k":"c2VjcmV0"}}'},
        },
        "data": {"k": "c2VjcmV0"},
        "stringData": {"t": "plain"},
    }

    cleaned = clean_object(secret)

    assert "managedFields" not in cleaned["metadata"] and "annotations" not in cleaned["metadata"]
    assert "c2VjcmV0" not in str(cleaned) and "plain" not in str(cleaned)
    assert cleaned["data"]["k"].startswith("<redacted: 8 chars")
    assert secret["metadata"]["managedFields"] == [{"manager": "x"}]


def _deployment(spec: dict[str, Any], status: dict[str, Any], generation: int = 2) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "generation": generation,
            "annotations": {"deployment.kubernetes.io/revision": "3"},
        },
        "spec": spec,
        "status": {"observedGeneration": 2, **status},
    }


@pytest.mark.parametrize(
    ("spec", "status", "generation", "complete", "message"),
    [
        ({"replicas": 3}, {}, 3, False, "spec update to be observed"),
        ({"replicas": 3}, {"updatedReplicas": 1, "replicas": 3}, 2, False, "1 of 3 replicas updated"),
        ({"replicas": 2}, {"updatedReplicas": 2, "replicas": 3}, 2, False, "1 old replicas pending"),
        (
            {"replicas": 2},
            {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 1},
            2,
            False,
            "1 of 2 updated",
        ),
        (
            {"replicas": 2},
            {"updatedReplicas": 2, "replicas": 2, "availableReplicas": 2},
            2,
            True,
            "rollout complete",
        ),
        (
            {"replicas": 2},
            {
                "conditions": [
                    {"type": "Progressing", "reason": "ProgressDeadlineExceeded", "message": "slow"}
                ]
            },
            2,
            False,
            "rollout failed",
        ),
    ],
)
def test_rollout_state_follows_kubectl(
    spec: dict[str, Any], status: dict[str, Any], generation: int, complete: bool, message: str
) -> None:
    state = rollout_state(_deployment(spec, status, generation))

    assert state.complete is complete
    assert message in state.message
    assert state.revision == 3
