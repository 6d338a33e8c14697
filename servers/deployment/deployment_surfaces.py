"""The deployment server's prompts, resources and completions (read tier, behind the guard).

Prompts (slash commands in hosts): `deploy_review(manifest, namespace)` and
`rollout_check(deployment, namespace)` — short runbooks naming the tools to use. Resources: a
plan you made (`plan://{plan_id}`: what it would do, its hash, read without using it up; and
`plan://{plan_id}/manifests`: the YAML it would send, a chart's rendered stream included) and a
pod's log (`k8s://{namespace}/pods/{pod}/logs`). Completions: namespaces (the policy's allowlist,
or the live ones when it allows any), and the Deployments and pods of the namespace already chosen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import anyio.to_thread
import yaml
from pydantic import Field

from servers.deployment.k8s_ops import KubeOps
from servers.deployment.plan_ops import PlanStorage
from shared.calls import current_identity
from shared.errors import NotFound
from shared.redaction import redact_data
from shared.safe_yaml import load_documents
from shared.toolkit import ServerKit

__all__ = ["deployment_surfaces"]

READ = "deployment:read"


def manifests_of(bodies: tuple[dict[str, Any], ...]) -> str:
    """A plan's payload as the YAML stream it sends: a chart's rendered stream, a k8s plan's objects,
    anything else (a Compose model, a drain) as stored — each document through the structured
    redaction, so a Secret's values show as their length and hash whatever its keys are called."""
    if len(bodies) == 1 and isinstance(bodies[0].get("rendered"), str):
        documents = [d for d in load_documents(str(bodies[0]["rendered"])) if d is not None]
    else:
        documents = [b["body"] if isinstance(b.get("body"), dict) else b for b in bodies]
    return yaml.safe_dump_all([redact_data(d) for d in documents], sort_keys=False)


def deployment_surfaces(kit: ServerKit, kube: KubeOps, stores: Mapping[str, PlanStorage]) -> None:
    """Register the prompts, resources and completion handler on `kit`."""

    @kit.prompt("deploy_review", "Review and deploy", permission=READ, needs=("k8s_plan", "k8s_apply"))
    def deploy_review(
        manifest: Annotated[str, Field(description="The YAML manifests to deploy")],
        namespace: Annotated[str, Field(description="Namespace for objects that name none")] = "default",
    ) -> str:
        """Plan a manifest, review the diff with the person, then apply exactly that plan."""
        return (
            f"Deploy this manifest to namespace {namespace!r}, safely:\n"
            "1. Call k8s_plan with the manifest and the namespace. If it is refused, explain the refusal "
            "(a Pod Security control, a namespace or kind the policy does not allow) and stop.\n"
            "2. Show the person every change of the plan (create / update / unchanged) and its diff; "
            "point out image changes, replica changes and anything that deletes or replaces data.\n"
            "3. Only when the person agrees, call k8s_apply with the plan_id. If it is refused because "
            "an object changed since the plan, plan again and show the new diff.\n"
            "4. For each Deployment applied, call k8s_rollout_status and report whether it finished.\n\n"
            f"Manifest:\n{manifest}"
        )

    @kit.prompt("rollout_check", "Check a rollout", permission=READ)
    def rollout_check(
        deployment: Annotated[str, Field(description="Deployment name")],
        namespace: Annotated[str, Field(description="Its namespace")] = "default",
    ) -> str:
        """Find out whether a Deployment's rollout is healthy, and why not."""
        return (
            f"Check the rollout of Deployment {deployment!r} in namespace {namespace!r}:\n"
            "1. k8s_rollout_status (a short timeout_s) for its progress.\n"
            "2. If it is not complete: k8s_describe the Deployment, k8s_list its pods, k8s_events for "
            "the namespace, and k8s_logs of a pod that is not ready.\n"
            "3. Summarise: what is rolling out (image, revision), what blocks it, and the safest next "
            "step (wait, fix the image, or roll back — a change the person must agree to)."
        )

    @kit.resource("plan://{plan_id}", "plan", "A plan you made", permission=READ, mime_type="text/plain")
    def plan(plan_id: str) -> str:
        """What one of your plans (k8s_plan, helm_plan, compose_plan, k8s_drain_plan) would do: its
        sha256 and the changes stored with it. Reading it does not use it up."""
        owner = current_identity().subject
        for kind, store in stores.items():
            try:
                found = store.peek(plan_id, owner=owner)
            except NotFound:
                continue
            head = f"{kind} plan {found.plan_id} (sha256 {found.sha256}) on {found.context}"
            return f"{head}\n{found.preview.summary}".rstrip() + "\n"
        raise NotFound(f"plan {plan_id[:40]!r} is unknown, used or expired; plan again")

    @kit.resource(
        "plan://{plan_id}/manifests", "plan_manifests", "What a plan sends", permission=READ,
        mime_type="application/yaml",
    )  # fmt: skip
    def plan_manifests(plan_id: str) -> str:
        """The manifests one of your plans would send, as YAML: a helm_plan's rendered chart (hooks
        included) exactly as helm_apply installs it, or a k8s_plan's objects. Secrets redacted."""
        owner = current_identity().subject
        for store in stores.values():
            try:
                found = store.peek(plan_id, owner=owner)
            except NotFound:
                continue
            return manifests_of(found.bodies)
        raise NotFound(f"plan {plan_id[:40]!r} is unknown, used or expired; plan again")

    @kit.resource(
        "k8s://{namespace}/pods/{pod}/logs",
        "pod_logs",
        "A pod's log",
        permission=READ,
        mime_type="text/plain",
    )
    def pod_logs(namespace: str, pod: str) -> str:
        """The last lines of a pod's log (its first container), secrets redacted."""
        return kube.logs(pod, namespace=namespace, max_chars=kit.budget.max_chars).text

    @kit.completion(permission=READ)
    async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        chosen = dict(getattr(context, "arguments", None) or {})
        return await anyio.to_thread.run_sync(lambda: _values(kube, argument.name, argument.value, chosen))


def _values(kube: KubeOps, name: str, prefix: str, chosen: dict[str, str]) -> list[str]:
    """The values an argument can take that start with `prefix` (empty for an argument we do not know)."""
    identity = current_identity()
    if name == "namespace":
        allowed = kube.policy.settings.k8s_namespaces
        names = (
            [o.name for o in kube.list_objects("Namespace", identity=identity)] if "*" in allowed else allowed
        )
    elif name in ("deployment", "pod"):
        kind = "Deployment" if name == "deployment" else "Pod"
        namespace = chosen.get("namespace", "default")
        names = [o.name for o in kube.list_objects(kind, identity=identity, namespace=namespace)]
    else:
        return []
    return sorted(n for n in names if n.startswith(prefix))
