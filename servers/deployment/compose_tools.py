"""The deployment server's Compose toolset: wiring only; the logic is `compose_ops.ComposeOps`.

compose_config, compose_ps and compose_logs at the read tier; compose_plan, compose_up and
compose_down at the write tier. Compose runs as a subprocess, so the tools are plain `def`s the kit
runs in worker threads; compose_up reports one progress notification per service started.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated

import anyio.from_thread
from mcp.server.mcpserver import Context
from pydantic import Field

from servers.deployment.compose_models import (
    ComposeContainer,
    ComposeDown,
    ComposeLogs,
    ComposeModel,
    ComposePlan,
    ComposeUp,
)
from servers.deployment.compose_ops import ComposeOps
from servers.deployment.confirmations import plan_change
from servers.deployment.models import ImageScans
from shared.calls import current_identity
from shared.paging import Cursor, Limit, Page, page
from shared.toolkit import ServerKit

ProjectDir = Annotated[
    str, Field(description="Folder of the Compose project (inside the allowed roots)", max_length=1024)
]
Files = Annotated[
    list[str] | None,
    Field(description="Compose files inside the folder; omit for compose.yaml", max_length=16),
]
Profiles = Annotated[list[str] | None, Field(description="Profiles to enable", max_length=16)]
Project = Annotated[str, Field(description="Project name (see compose_config)", max_length=63)]


def compose_tools(kit: ServerKit, compose: ComposeOps) -> None:
    """Register the Compose tools on `kit`, driving `compose`."""
    reads = kit.toolset(permission="deployment:read", open_world=True)
    writes = kit.toolset(permission="deployment:write", open_world=True)

    @reads.tool("compose_config", "Show a resolved Compose project")
    def compose_config(
        project_dir: ProjectDir, files: Files = None, profiles: Profiles = None
    ) -> ComposeModel:
        """The project as Compose resolves it (variables interpolated, paths absolute); secret-looking
        values are redacted."""
        return compose.config(project_dir, files, profiles)

    @reads.tool("compose_ps", "List a Compose project's containers")
    def compose_ps(project: Project, cursor: Cursor = None, limit: Limit = None) -> Page[ComposeContainer]:
        """The containers of a project with their service, state and status."""
        return page(compose.ps(project))

    @reads.tool("compose_logs", "Read a Compose project's logs")
    def compose_logs(
        project: Project,
        service: Annotated[str | None, Field(description="Only this service", max_length=63)] = None,
        tail: Annotated[int, Field(description="Last lines per container", ge=1, le=100_000)] = 200,
    ) -> ComposeLogs:
        """The last lines of each container's output, secrets redacted, cut to the output budget."""
        return compose.logs(project, service=service, tail=tail, max_chars=kit.budget.max_chars)

    @writes.tool(
        "compose_plan",
        "Plan bringing a Compose project up",
        destructive=False,
        idempotent=False,
        confirm=False,
    )
    def compose_plan(
        project_dir: ProjectDir,
        files: Files = None,
        profiles: Profiles = None,
        image_scans: ImageScans = None,
    ) -> ComposePlan:
        """Resolve the project, check every service with docker_run's hardening rules (no privileged, no
        host namespaces, devices or added capabilities, mounts only in the allowed roots, images from
        allowed registries, no build:), harden it the same way, and say which services would be created,
        recreated or removed. With the image gate configured, every image needs a clean scan_image
        attestation in image_scans. Nothing changes. Returns a plan_id for compose_up."""
        identity = current_identity()
        return compose.plan(project_dir, files, profiles, identity=identity, image_scans=image_scans)

    @writes.tool("compose_up", "Bring a planned Compose project up", preview=plan_change(compose.store))
    def compose_up(
        plan_id: Annotated[str, Field(description="plan_id from compose_plan", max_length=64)], ctx: Context
    ) -> ComposeUp:
        """Run exactly the planned, hardened model (no pulls from elsewhere, no builds), reporting each
        service as it starts. Refused when the plan expired or was used."""

        def progress(done: int, total: int, message: str) -> None:
            anyio.from_thread.run(partial(ctx.report_progress, float(done), float(total), message))

        return compose.up(plan_id, identity=current_identity(), progress=progress)

    @writes.tool("compose_down", "Take a Compose project down")
    def compose_down(project: Project) -> ComposeDown:
        """Stop and remove a project's containers (only a project you brought up here; admins: any).
        Volumes are kept."""
        return compose.down(project, identity=current_identity())
