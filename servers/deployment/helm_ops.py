"""Helm domain logic: read releases; plan an install, upgrade or rollback; apply exactly the plan.

`plan` renders the chart held by the plan with a server-side dry run (hooks included), recording
the exact stream helm rendered; admits every rendered object (and the chart's CRDs) for the caller;
diffs the release's objects against the live release manifest; and stores the chart archive, the
values and the rendered stream under a plan id bound to their hash. `apply` takes the plan once,
admits every object again for the applier, refuses if the release moved past the revision planned
against, then runs `helm upgrade --install` on the stored chart and values with the post-renderer
replaying the recorded stream: what is installed is what was planned. A rollback is planned from
the target revision's stored manifest and hooks, and applied with `helm rollback`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from servers.deployment.helm_charts import ChartArchive, archive_from_bytes
from servers.deployment.helm_cli import PLUGIN, KubeTarget
from servers.deployment.helm_models import (
    HelmApplied,
    HelmPlan,
    HelmUninstalled,
)
from servers.deployment.helm_reads import HelmReads
from servers.deployment.helm_release import (
    ReleaseObject,
    admit_objects,
    check_removable,
    diff_release,
    locate_objects,
    release_name,
)
from servers.deployment.plan_ops import PlanPreview, change_lines, plan_hash
from shared.errors import InvalidArgument, NotFound, PermissionDenied
from shared.identity import Identity
from shared.image_gate import pod_images

__all__ = ["HelmOps"]

_RENDERED: Final = "CODE_MCP_RENDERED"


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _canonical(values: dict[str, Any]) -> str:
    try:
        return json.dumps(values, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidArgument(f"values must be plain JSON: {exc}") from None


class HelmOps(HelmReads):
    """The helm tools' logic: plans of installs, upgrades and rollbacks, applied exactly."""

    def _admit(
        self, text: str, crds: list[dict[str, Any]], target: KubeTarget, identity: Identity
    ) -> list[ReleaseObject]:
        cluster = self.kube.cluster(target.context, identity)
        return admit_objects(
            [*self._objects(text), *crds],
            cluster=cluster,
            policy=self.kube.policy,
            namespace=target.namespace,
            identity=identity,
        )

    # ------------------------------------------------------------------ plans

    def plan(
        self,
        archive: ChartArchive,
        *,
        release: str,
        namespace: str,
        values: dict[str, Any] | None,
        context: str | None,
        identity: Identity,
        max_diff_chars: int,
        image_scans: list[str] | None = None,
    ) -> HelmPlan:
        name = release_name(release)
        target = self.target(namespace, context, identity, write=True)
        values_json = _canonical(values or {})
        if len(values_json) > self.kube.settings.max_manifest_bytes:
            raise InvalidArgument("the values are larger than max_manifest_bytes")
        base = self._current_revision(name, target)
        work = self.cli.work_dir()
        try:
            chart, values_file, rendered = work / "chart.tgz", work / "values.json", work / "rendered.yaml"
            chart.write_bytes(archive.data)
            values_file.write_text(values_json)
            self.cli.run(
                [
                    "upgrade",
                    "--install",
                    name,
                    str(chart),
                    "--values",
                    str(values_file),
                    "--dry-run=server",
                    "--post-renderer",
                    PLUGIN,
                    "--post-renderer-args",
                    "record",
                ],
                target=target,
                env={_RENDERED: str(rendered)},
                what=f"render {archive.name} as {name!r}",
            )
            stream = rendered.read_text() if rendered.exists() else ""
        finally:
            shutil.rmtree(work, ignore_errors=True)
        planned = self._admit(stream, archive.crds, target, identity)
        self.kube.image_gate.require_pinned(
            dict.fromkeys(i for o in planned for i in pod_images(o.body)), tokens=image_scans
        )
        live_text = self._manifest(name, target, base) if base is not None else ""
        cluster = self.kube.cluster(target.context, identity)
        live = locate_objects(self._objects(live_text), cluster=cluster, namespace=target.namespace)
        changes, truncated = diff_release(live, planned, max_chars=max_diff_chars)
        body = {
            "type": "helm",
            "action": "install" if base is None else "upgrade",
            "release": name,
            "namespace": target.namespace,
            "chart": base64.b64encode(archive.data).decode(),
            "chart_digest": archive.digest,
            "chart_name": f"{archive.name}-{archive.version}",
            "values": json.loads(values_json),
            "values_sha256": _sha(values_json),
            "rendered": stream,
            "rendered_sha256": _sha(stream),
            "base_revision": base,
            "target_revision": None,
        }
        return self._store(body, target, identity, changes, planned, truncated)

    def plan_rollback(
        self,
        release: str,
        revision: int,
        *,
        namespace: str,
        context: str | None,
        identity: Identity,
        max_diff_chars: int,
    ) -> HelmPlan:
        name = release_name(release)
        target = self.target(namespace, context, identity, write=True)
        known = {
            r.revision: r for r in self.history(name, namespace=namespace, context=context, identity=identity)
        }
        if revision not in known:
            listed = ", ".join(str(r) for r in sorted(known)) or "none"
            raise NotFound(f"release {name!r} has no revision {revision} (revisions: {listed})")
        current = max(known)
        if revision == current:
            raise InvalidArgument(f"revision {revision} is already the current one")
        stream = (
            self._manifest(name, target, revision)
            + "\n---\n"
            + self._manifest(name, target, revision, hooks=True)
        )
        planned = self._admit(stream, [], target, identity)
        cluster = self.kube.cluster(target.context, identity)
        live = locate_objects(
            self._objects(self._manifest(name, target, current)), cluster=cluster, namespace=target.namespace
        )
        changes, truncated = diff_release(live, planned, max_chars=max_diff_chars)
        body = {
            "type": "helm",
            "action": "rollback",
            "release": name,
            "namespace": target.namespace,
            "chart": "",
            "chart_digest": "",
            "chart_name": known[revision].chart,
            "values": {},
            "values_sha256": _sha("{}"),
            "rendered": stream,
            "rendered_sha256": _sha(stream),
            "base_revision": current,
            "target_revision": revision,
        }
        return self._store(body, target, identity, changes, planned, truncated)

    def _store(
        self,
        body: dict[str, Any],
        target: KubeTarget,
        identity: Identity,
        changes: list[Any],
        planned: list[ReleaseObject],
        truncated: bool,
    ) -> HelmPlan:
        body["context"] = target.context
        sha = plan_hash(target.context, [body])
        preview = PlanPreview(
            summary=f"helm {body['action']} of release {body['release']} (chart {body['chart_name']}, values "
            f"sha256 {body['values_sha256'][:12]}, rendered sha256 {body['rendered_sha256'][:12]}):\n"
            + change_lines(changes),
            namespace=target.namespace,
            destructive=body["action"] != "install" or any(c.action in ("update", "delete") for c in changes),
        )
        stored = self.store.add(
            sha256=sha, context=target.context, owner=identity.subject, bodies=[body], preview=preview
        )
        expires = datetime.now(UTC) + timedelta(seconds=stored.expires_at - self.store.clock())
        return HelmPlan(
            plan_id=stored.plan_id,
            sha256=sha,
            action=body["action"],
            release=body["release"],
            namespace=body["namespace"],
            context=target.context,
            chart=body["chart_name"],
            chart_digest=body["chart_digest"],
            values_sha256=body["values_sha256"],
            base_revision=body["base_revision"],
            target_revision=body["target_revision"],
            changes=changes,
            hooks=[f"{o.kind}/{o.name} [{o.hook}]" for o in planned if o.hook],
            expires_at=expires.isoformat(timespec="seconds"),
            diff_truncated=truncated,
        )

    def apply(self, plan_id: str, *, identity: Identity) -> HelmApplied:
        stored = self.store.take(plan_id, owner=identity.subject)
        body = dict(stored.bodies[0])
        if plan_hash(stored.context, [body]) != stored.sha256 or body.get("type") != "helm":
            raise PermissionDenied("the stored plan does not match its hash; run helm_plan again")
        name, stream = body["release"], body["rendered"]
        if _sha(stream) != body["rendered_sha256"]:
            raise PermissionDenied("the stored render does not match its hash; run helm_plan again")
        target = self.target(body["namespace"], stored.context, identity, write=True)
        crds: list[dict[str, Any]] = []
        data = b""
        if body["action"] != "rollback":
            data = base64.b64decode(body["chart"])
            if _sha(data) != body["chart_digest"]:
                raise PermissionDenied("the stored chart does not match its digest; run helm_plan again")
            settings = self.kube.settings.helm
            crds = archive_from_bytes(data, source="the planned chart", settings=settings).crds
        self._admit(stream, crds, target, identity)  # the applier's role may not be the planner's
        current = self._current_revision(name, target)
        if current != body["base_revision"]:
            raise InvalidArgument(
                f"release {name!r} moved from revision {body['base_revision']} to {current} since the plan; "
                "nothing was applied; plan again and review the new diff"
            )
        timeout = f"{int(self.cli.timeout_s)}s"
        if body["action"] == "rollback":
            revision = int(body["target_revision"])
            again = (
                self._manifest(name, target, revision)
                + "\n---\n"
                + self._manifest(name, target, revision, hooks=True)
            )
            if _sha(again) != body["rendered_sha256"]:
                raise PermissionDenied(f"revision {revision} of {name!r} changed since the plan; plan again")
            self.cli.run(
                ["rollback", name, str(revision), "--timeout", timeout],
                target=target,
                what=f"roll back {name!r}",
            )
        else:
            work = self.cli.work_dir()
            try:
                (work / "chart.tgz").write_bytes(data)
                (work / "values.json").write_text(_canonical(body["values"]))
                (work / "rendered.yaml").write_text(stream)
                self.cli.run(
                    [
                        "upgrade",
                        "--install",
                        name,
                        str(work / "chart.tgz"),
                        "--values",
                        str(work / "values.json"),
                        "--post-renderer",
                        PLUGIN,
                        "--post-renderer-args",
                        "replay",
                        "--timeout",
                        timeout,
                    ],
                    target=target,
                    env={_RENDERED: str(work / "rendered.yaml")},
                    what=f"{body['action']} {name!r}",
                )
            finally:
                shutil.rmtree(work, ignore_errors=True)
        now = self.status(
            name, namespace=target.namespace, context=stored.context, identity=identity, max_chars=0
        )
        return HelmApplied(
            plan_id=stored.plan_id,
            sha256=stored.sha256,
            release=name,
            namespace=target.namespace,
            revision=now.revision,
            status=now.status,
        )

    def uninstall(
        self, release: str, *, namespace: str, context: str | None, identity: Identity
    ) -> HelmUninstalled:
        name = release_name(release)
        target = self.target(namespace, context, identity, write=True)
        current = self._current_revision(name, target)
        if current is None:
            raise NotFound(
                f"release {name!r} is not installed in {target.namespace!r}; list them with helm_list"
            )
        cluster = self.kube.cluster(target.context, identity)
        objects = self._objects(self._manifest(name, target, current))
        removed = check_removable(
            objects, cluster=cluster, policy=self.kube.policy, namespace=target.namespace, identity=identity
        )
        self.cli.run(
            ["uninstall", name, "--timeout", f"{int(self.cli.timeout_s)}s"],
            target=target,
            what=f"uninstall {name!r}",
        )
        return HelmUninstalled(release=name, namespace=target.namespace, removed=removed)

    def pull_oci(self, reference: str, version: str | None, sources: Any) -> ChartArchive:
        """An OCI chart (registry already allowed by `sources.check_oci`), pulled by helm, then checked."""
        ref = sources.check_oci(reference)
        work = self.cli.work_dir()
        try:
            args = ["pull", ref, "--destination", str(work)] + (["--version", version] if version else [])
            self.cli.run(args, what=f"pull {ref}")
            pulled = sorted(work.glob("*.tgz"))
            if len(pulled) != 1:
                raise InvalidArgument(f"pull {ref}: helm left no single chart archive")
            if pulled[0].stat().st_size > self.kube.settings.helm.max_chart_bytes:
                raise InvalidArgument(f"{ref} is larger than the allowed chart size")
            return archive_from_bytes(pulled[0].read_bytes(), source=ref, settings=self.kube.settings.helm)
        finally:
            shutil.rmtree(work, ignore_errors=True)
