"""Helm reads (list, status, history, values) and the release lookups plans are built on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from servers.deployment.helm_cli import HelmCli, KubeTarget
from servers.deployment.helm_models import HelmRelease, HelmReleaseStatus, HelmRevision, HelmValues
from servers.deployment.helm_release import parse_objects, release_name
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.plan_ops import PlanStorage
from shared.errors import NotFound
from shared.identity import Identity
from shared.output import clip
from shared.redaction import redact_text

__all__ = ["HelmReads"]


class HelmReads:
    """The helm CLI, the cluster policy of `kube`, a plan store; the reads every helm tool starts from."""

    def __init__(self, cli: HelmCli, kube: KubeOps, store: PlanStorage) -> None:
        self.cli = cli
        self.kube = kube
        self.store = store
        configured = kube.connections.kubeconfig
        env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        self.kubeconfig = configured or (Path(env) if env else Path.home() / ".kube" / "config")

    def close(self) -> None:
        self.cli.close()
        self.store.close()

    def target(self, namespace: str, context: str | None, identity: Identity, *, write: bool) -> KubeTarget:
        ns = self.kube.namespace(namespace, write=write)
        name = self.kube.cluster(context, identity).context
        return KubeTarget(self.kubeconfig, name, ns, self.kube.acting_as(identity))

    # ------------------------------------------------------------------ reads

    def releases(self, *, namespace: str, context: str | None, identity: Identity) -> list[HelmRelease]:
        target = self.target(namespace, context, identity, write=False)
        rows = (
            self.cli.run_json(
                [
                    "list",
                    "--deployed",
                    "--failed",
                    "--pending",
                    "--superseded",
                    "--uninstalling",
                    "--max",
                    "0",
                ],
                target=target,
                what="helm list",
            )
            or []
        )
        return [
            HelmRelease(
                name=str(r.get("name", "")),
                namespace=str(r.get("namespace", "")),
                revision=int(r.get("revision") or 0),
                status=str(r.get("status", "")),
                chart=str(r.get("chart", "")),
                app_version=str(r.get("app_version", "")),
                updated=str(r.get("updated", "")),
            )
            for r in rows
        ]

    def status(
        self, release: str, *, namespace: str, context: str | None, identity: Identity, max_chars: int
    ) -> HelmReleaseStatus:
        name = release_name(release)
        target = self.target(namespace, context, identity, write=False)
        raw = self.cli.run_json(["status", name], target=target, what=f"release {name!r}") or {}
        info, chart = raw.get("info") or {}, (raw.get("chart") or {}).get("metadata") or {}
        resources = sorted(
            f"{obj.get('kind', group.rpartition('/')[2])}/{(obj.get('metadata') or {}).get('name', '')}"
            for group, items in (info.get("resources") or {}).items()
            for obj in items or []
        )
        notes, _ = clip(redact_text(str(info.get("notes", ""))), min(max_chars, 4000))
        return HelmReleaseStatus(
            name=name,
            namespace=target.namespace,
            revision=int(raw.get("version") or 0),
            status=str(info.get("status", "")),
            chart=f"{chart.get('name', '')}-{chart.get('version', '')}",
            app_version=str(chart.get("appVersion", "")),
            updated=str(info.get("last_deployed", "")),
            description=str(info.get("description", "")),
            notes=notes,
            resources=resources,
        )

    def history(
        self, release: str, *, namespace: str, context: str | None, identity: Identity
    ) -> list[HelmRevision]:
        name = release_name(release)
        target = self.target(namespace, context, identity, write=False)
        rows = self.cli.run_json(["history", name, "--max", "256"], target=target, what=f"release {name!r}")
        return [
            HelmRevision(
                revision=int(r.get("revision") or 0),
                status=str(r.get("status", "")),
                chart=str(r.get("chart", "")),
                app_version=str(r.get("app_version", "")),
                updated=str(r.get("updated", "")),
                description=str(r.get("description", "")),
            )
            for r in rows or []
        ]

    def values(
        self,
        release: str,
        *,
        namespace: str,
        context: str | None,
        identity: Identity,
        revision: int | None = None,
        all_values: bool = False,
    ) -> HelmValues:
        name = release_name(release)
        target = self.target(namespace, context, identity, write=False)
        args = ["get", "values", name, *(["--all"] if all_values else [])]
        if revision is not None:
            args += ["--revision", str(int(revision))]
        raw = self.cli.run_json(args, target=target, what=f"values of {name!r}") or {}
        return HelmValues(release=name, namespace=target.namespace, revision=revision, values=dict(raw))

    def _current_revision(self, release: str, target: KubeTarget) -> int | None:
        try:
            rows = self.cli.run_json(
                ["history", release, "--max", "1"], target=target, what=f"release {release!r}"
            )
        except NotFound:
            return None
        return max((int(r.get("revision") or 0) for r in rows or []), default=None)

    def _manifest(self, release: str, target: KubeTarget, revision: int, *, hooks: bool = False) -> str:
        what = "hooks" if hooks else "manifest"
        return self.cli.run(
            ["get", what, release, "--revision", str(revision)], target=target, what=f"{what} of {release!r}"
        )

    def _objects(self, text: str) -> list[dict[str, Any]]:
        settings = self.kube.settings
        return parse_objects(
            text, max_bytes=settings.max_manifest_bytes, max_objects=settings.max_objects_per_plan
        )
