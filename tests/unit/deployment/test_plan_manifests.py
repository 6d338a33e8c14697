"""`plan://{id}/manifests`: what a plan sends, as YAML, with every Secret's values redacted."""

from __future__ import annotations

import yaml

from servers.deployment.deployment_surfaces import manifests_of

VALUE = "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHNlY3JldA=="
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"config": VALUE}}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {"replicas": 2},
}


def test_a_charts_rendered_stream_is_shown_document_by_document_with_secrets_redacted() -> None:
    rendered = (
        "---\n# Source: web/templates/s.yaml\n"
        + yaml.safe_dump(SECRET)
        + "---\n"
        + yaml.safe_dump(DEPLOYMENT)
    )
    shown = manifests_of(({"rendered": rendered, "release": "shop"},))
    documents = list(yaml.safe_load_all(shown))
    assert [d["kind"] for d in documents] == ["Secret", "Deployment"]
    assert VALUE not in shown and documents[0]["data"]["config"] != VALUE  # whatever the key is called
    assert documents[1] == DEPLOYMENT


def test_a_k8s_plans_objects_are_shown_without_the_apply_options() -> None:
    shown = manifests_of(({"body": DEPLOYMENT, "force": False, "apiVersion": "apps/v1"}, {"body": SECRET}))
    documents = list(yaml.safe_load_all(shown))
    assert documents[0] == DEPLOYMENT and "force" not in shown
    assert VALUE not in shown
