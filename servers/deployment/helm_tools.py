"""The deployment server's Helm toolset: wiring only; the logic is `helm_ops.HelmOps`.

Reads (list, status, history, values) at the read tier; helm_plan, helm_rollback (which plans),
helm_apply and helm_uninstall at the write tier. helm blocks, so the tools are plain `def`s the kit
runs in worker threads — all but helm_plan, which may fetch a chart from a repository first.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Annotated, Any

import anyio.to_thread
from pydantic import Field

from servers.deployment.confirmations import plan_change
from servers.deployment.helm_charts import ChartArchive, ChartSources
from servers.deployment.helm_models import (
    HelmApplied,
    HelmPlan,
    HelmRelease,
    HelmReleaseStatus,
    HelmRevision,
    HelmUninstalled,
    HelmValues,
)
from servers.deployment.helm_ops import HelmOps
from servers.deployment.models import ImageScans
from shared.calls import current_identity
from shared.errors import InvalidArgument
from shared.paging import Cursor, Limit, Page, page
from shared.toolkit import ServerKit

Release = Annotated[str, Field(description="Release name", max_length=53)]
Namespace = Annotated[str, Field(description="Namespace (must be allowed by policy)", max_length=63)]
KubeContextName = Annotated[
    str | None, Field(description="kubeconfig context; omit for the current one", max_length=253)
]
_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}")


def helm_tools(kit: ServerKit, helm: HelmOps, sources: ChartSources) -> None:
    """Register the Helm tools on `kit`, driving `helm`, reading charts through `sources`."""
    reads = kit.toolset(permission="deployment:read", open_world=True)
    writes = kit.toolset(permission="deployment:write", open_world=True)

    @reads.tool("helm_list", "List Helm releases")
    def helm_list(
        namespace: Namespace = "default",
        context: KubeContextName = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[HelmRelease]:
        """Helm releases in a namespace (every status), with their revision and chart."""
        return page(helm.releases(namespace=namespace, context=context, identity=current_identity()))

    @reads.tool("helm_status", "Show a Helm release")
    def helm_status(
        release: Release, namespace: Namespace = "default", context: KubeContextName = None
    ) -> HelmReleaseStatus:
        """One release: status, revision, chart, notes and the objects it holds."""
        return helm.status(
            release,
            namespace=namespace,
            context=context,
            identity=current_identity(),
            max_chars=kit.budget.max_chars,
        )

    @reads.tool("helm_history", "List a Helm release's revisions")
    def helm_history(
        release: Release,
        namespace: Namespace = "default",
        context: KubeContextName = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[HelmRevision]:
        """Every revision of a release, oldest first; pass one to helm_rollback."""
        return page(helm.history(release, namespace=namespace, context=context, identity=current_identity()))

    @reads.tool("helm_values", "Show a Helm release's values")
    def helm_values(
        release: Release,
        namespace: Namespace = "default",
        revision: Annotated[int | None, Field(description="Revision; omit for the current one", ge=1)] = None,
        all_values: Annotated[bool, Field(description="Include the chart's defaults too")] = False,
        context: KubeContextName = None,
    ) -> HelmValues:
        """The values a release was installed with; secret-looking values are redacted."""
        return helm.values(
            release,
            namespace=namespace,
            context=context,
            identity=current_identity(),
            revision=revision,
            all_values=all_values,
        )

    @writes.tool(
        "helm_plan", "Plan a Helm install or upgrade", destructive=False, idempotent=False, confirm=False
    )
    async def helm_plan(
        chart: Annotated[
            str,
            Field(
                description="A chart folder or .tgz inside the allowed roots; a chart name with `repo`; or "
                "oci://registry/path/chart",
                max_length=1024,
            ),
        ],
        release: Release,
        namespace: Namespace = "default",
        values: Annotated[dict[str, Any] | None, Field(description="Values, as a JSON object")] = None,
        version: Annotated[str | None, Field(description="Chart version (repository and OCI charts)")] = None,
        repo: Annotated[
            str | None, Field(description="Chart repository URL (must be allowed by policy)", max_length=1024)
        ] = None,
        context: KubeContextName = None,
        image_scans: ImageScans = None,
    ) -> HelmPlan:
        """Render the chart with a server-side dry run (hooks included), check every rendered object against
        the admission policy, and diff it against the live release. Nothing changes. Returns a plan_id bound
        to the chart digest, the values and the rendered objects; show the diff, then helm_apply(plan_id)."""
        if version is not None and not _VERSION.fullmatch(version):
            raise InvalidArgument("version must be an exact chart version such as 1.2.3")
        identity = current_identity()
        archive: ChartArchive
        if repo is not None:
            archive = await sources.from_repository(repo, chart, version)
        elif chart.startswith("oci://"):
            archive = await anyio.to_thread.run_sync(partial(helm.pull_oci, chart, version, sources))
        else:
            archive = await anyio.to_thread.run_sync(partial(sources.local, chart))
        return await anyio.to_thread.run_sync(
            partial(
                helm.plan,
                archive,
                release=release,
                namespace=namespace,
                values=values,
                context=context,
                identity=identity,
                max_diff_chars=kit.budget.max_chars,
                image_scans=image_scans,
            )
        )

    @writes.tool("helm_rollback", "Plan a Helm rollback", destructive=False, idempotent=False, confirm=False)
    def helm_rollback(
        release: Release,
        revision: Annotated[int, Field(description="Revision to return to (see helm_history)", ge=1)],
        namespace: Namespace = "default",
        context: KubeContextName = None,
    ) -> HelmPlan:
        """Plan returning a release to an earlier revision: that revision's objects and hooks are admitted
        and diffed against the live release. Apply it with helm_apply(plan_id)."""
        return helm.plan_rollback(
            release,
            revision,
            namespace=namespace,
            context=context,
            identity=current_identity(),
            max_diff_chars=kit.budget.max_chars,
        )

    @writes.tool("helm_apply", "Apply a reviewed Helm plan", preview=plan_change(helm.store))
    def helm_apply(
        plan_id: Annotated[str, Field(description="plan_id from helm_plan or helm_rollback", max_length=64)],
    ) -> HelmApplied:
        """Install, upgrade or roll back exactly as planned: the planned chart, values and rendered objects.
        Refused when the plan expired or was used, or the release moved to another revision since."""
        return helm.apply(plan_id, identity=current_identity())

    @writes.tool("helm_uninstall", "Uninstall a Helm release")
    def helm_uninstall(
        release: Release, namespace: Namespace = "default", context: KubeContextName = None
    ) -> HelmUninstalled:
        """Delete a release and its objects (refused when it holds kinds your role may not change)."""
        return helm.uninstall(release, namespace=namespace, context=context, identity=current_identity())
