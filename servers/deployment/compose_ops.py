"""Compose domain logic: resolve a project, plan it, bring exactly the plan up, and take it down.

`plan` resolves the project twice with Compose itself: first without reading env files (so an
`env_file` outside the project folder is refused before Compose reads it), then fully. Every
service is checked and hardened (`compose_checks`), every image must be on the engine or come from
an allowed registry, and the hardened model is compared with the project's running containers
(Compose's own config hash) to say what will be created, recreated or removed. The model is stored
under a plan id bound to its hash; `compose_up` writes that very model to a private file and runs
Compose on it (`--pull never --no-build`), so what runs is what was planned. A project is this
server's to change only if it brought it up (the ownership ledger), or the caller is an admin.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from servers.deployment.compose_checks import PROJECT_NAME, env_files, harden_model
from servers.deployment.compose_cli import ComposeCli
from servers.deployment.compose_models import (
    ComposeContainer,
    ComposeDown,
    ComposeLogs,
    ComposeModel,
    ComposePlan,
    ComposeServiceChange,
    ComposeUp,
)
from servers.deployment.docker_ops import DockerOps, docker_errors
from servers.deployment.plan_ops import PlanPreview, PlanStorage, change_lines, plan_hash
from shared.errors import InvalidArgument, PermissionDenied
from shared.identity import Identity
from shared.output import clip
from shared.redaction import redact_text
from shared.validation import path_within, safe_arg

__all__ = ["ComposeOps"]

ServiceProgress = Callable[[int, int, str], None]
_PROFILE_OR_SERVICE = PROJECT_NAME


class ComposeOps:
    """The compose tools' logic over one Docker engine (the one `docker` drives)."""

    def __init__(
        self, cli: ComposeCli, docker: DockerOps, store: PlanStorage, scan_roots: list[Path]
    ) -> None:
        self.cli = cli
        self.docker = docker
        self.store = store
        self.scan_roots = scan_roots

    def close(self) -> None:
        self.cli.close()
        self.store.close()

    # ------------------------------------------------------------------ the project

    def project_dir(self, project_dir: str) -> Path:
        roots = self.docker.settings.compose.project_roots or self.scan_roots
        if not roots:
            raise PermissionDenied(
                "Compose projects are not allowed: start the server with --root DIR, or configure "
                "[deployment.compose] project_roots or [policy] scan_roots"
            )
        path = path_within(
            safe_arg(project_dir, what="project_dir"), roots, must_exist=True, what="project_dir"
        )
        if not path.is_dir():
            raise InvalidArgument(f"project_dir {project_dir!r} must be a folder")
        return path

    def _args(self, root: Path, files: list[str] | None, profiles: list[str] | None) -> list[str]:
        args = ["--project-directory", str(root)]
        for name in files or []:
            path = path_within(
                safe_arg(name, what="compose file"), [root], must_exist=True, what="compose file"
            )
            args += ["--file", str(path)]
        for profile in profiles or []:
            if not _PROFILE_OR_SERVICE.fullmatch(profile):
                raise InvalidArgument(
                    f"profile {profile[:40]!r} must be lowercase letters, digits, '_' or '-'"
                )
            args += ["--profile", profile]
        return args

    def resolve(
        self, project_dir: str, files: list[str] | None, profiles: list[str] | None
    ) -> tuple[Path, dict[str, Any]]:
        """The project folder and its resolved model (env files checked before they are read)."""
        root = self.project_dir(project_dir)
        args = self._args(root, files, profiles)
        unread = self.cli.run_json(
            [*args, "config", "--format", "json", "--no-env-resolution"], cwd=root, what="compose config"
        )
        env_files(unread, root)
        model = self.cli.run_json([*args, "config", "--format", "json"], cwd=root, what="compose config")
        name = str(model.get("name", ""))
        if not PROJECT_NAME.fullmatch(name):
            raise InvalidArgument(f"project name {name[:60]!r} must be lowercase letters, digits, '_' or '-'")
        return root, model

    def config(self, project_dir: str, files: list[str] | None, profiles: list[str] | None) -> ComposeModel:
        _, model = self.resolve(project_dir, files, profiles)
        return ComposeModel(project=model["name"], services=sorted(model.get("services") or {}), model=model)

    def _owned(self, project: str, identity: Identity, verb: str) -> None:
        """A new project is anyone's to bring up; an existing one only its owner's (or an admin's)."""
        key = f"compose:{project}"
        if not self.docker.ledger.managed(key) and not self._containers(project):
            return
        self.docker.ledger.require(
            key,
            caller=identity.subject,
            admin=identity.role == "admin",
            what="compose project",
            verb=verb,
            shown=project,
        )

    def _containers(self, project: str) -> list[dict[str, Any]]:
        with docker_errors(f"containers of {project}"):
            rows: list[dict[str, Any]] = self.docker.client.api.containers(
                all=True, filters={"label": f"com.docker.compose.project={project}"}
            )
        return rows

    def _check(self, model: dict[str, Any], identity: Identity) -> dict[str, Any]:
        settings = self.docker.settings
        hardened = harden_model(
            model,
            settings=settings,
            policy=self.docker.policy,
            owner=identity.subject,
            max_services=settings.compose.max_services,
        )
        for service in hardened["services"].values():
            if self.docker.image_id(service["image"]) is None:
                self.docker.policy.check_image_pull(service["image"])
        return hardened

    # ------------------------------------------------------------------ plan and up

    def plan(
        self,
        project_dir: str,
        files: list[str] | None,
        profiles: list[str] | None,
        *,
        identity: Identity,
        image_scans: list[str] | None = None,
    ) -> ComposePlan:
        root, model = self.resolve(project_dir, files, profiles)
        project = model["name"]
        self._owned(project, identity, "change")
        hardened = self._check(model, identity)
        image_ids = {}
        if self.docker.image_gate.enabled:  # the ids the scans vouch for; compose_up runs only those
            image_ids = {
                name: self.docker.gated_image(service["image"], image_scans)
                for name, service in sorted(hardened["services"].items())
            }
        hashes = self._hashes(hardened, root)
        live = {
            (c.get("Labels") or {}).get("com.docker.compose.service", ""): c
            for c in self._containers(project)
        }
        changes = []
        for name, service in sorted(hardened["services"].items()):
            container = live.pop(name, None)
            if container is None:
                changes.append(
                    ComposeServiceChange(
                        service=name, action="create", image=service["image"], reason="no container yet"
                    )
                )
            elif (container.get("Labels") or {}).get("com.docker.compose.config-hash") != hashes.get(name):
                changes.append(
                    ComposeServiceChange(
                        service=name,
                        action="recreate",
                        image=service["image"],
                        reason="its configuration changed",
                    )
                )
            else:
                changes.append(
                    ComposeServiceChange(
                        service=name, action="unchanged", image=service["image"], reason="same configuration"
                    )
                )
        changes += [
            ComposeServiceChange(
                service=name,
                action="remove",
                image=str(c.get("Image", "")),
                reason="no longer in the project",
            )
            for name, c in sorted(live.items())
        ]
        body = {
            "type": "compose",
            "project": project,
            "project_dir": str(root),
            "model": hardened,
            "image_ids": image_ids,
        }
        context = f"docker:{self.docker.settings.docker_host}"
        sha = plan_hash(context, [body])
        preview = PlanPreview(
            summary=f"compose up of project {project}:\n" + change_lines(changes),
            destructive=any(c.action in ("recreate", "remove") for c in changes),
        )
        stored = self.store.add(
            sha256=sha, context=context, owner=identity.subject, bodies=[body], preview=preview
        )
        expires = datetime.now(UTC) + timedelta(seconds=stored.expires_at - self.store.clock())
        return ComposePlan(
            plan_id=stored.plan_id,
            sha256=sha,
            project=project,
            changes=changes,
            model=hardened,
            expires_at=expires.isoformat(timespec="seconds"),
        )

    def _hashes(self, model: dict[str, Any], root: Path) -> dict[str, str]:
        work = self.cli.work_dir()
        try:
            path = work / "compose.json"
            path.write_text(json.dumps(model))
            out = self.cli.run(
                [
                    "--project-name",
                    model["name"],
                    "--file",
                    str(path),
                    "--project-directory",
                    str(root),
                    "config",
                    "--hash",
                    "*",
                ],
                cwd=root,
                what="compose config --hash",
            )
        finally:
            for child in work.iterdir():
                child.unlink()
            work.rmdir()
        return dict(line.split(None, 1) for line in out.splitlines() if " " in line)

    def up(self, plan_id: str, *, identity: Identity, progress: ServiceProgress | None = None) -> ComposeUp:
        stored = self.store.take(plan_id, owner=identity.subject)
        body = stored.bodies[0]
        if plan_hash(stored.context, [body]) != stored.sha256 or body.get("type") != "compose":
            raise PermissionDenied("the stored plan does not match its hash; run compose_plan again")
        project, root, model = body["project"], Path(body["project_dir"]), body["model"]
        self._owned(project, identity, "change")
        again = self._check(model, identity)  # the applier's role may not be the planner's
        if again != model:
            raise PermissionDenied(
                "the planned model no longer passes the checks unchanged; run compose_plan again"
            )
        for name, service in model["services"].items():
            self.docker.ensure_image(service["image"])
            planned_id = (body.get("image_ids") or {}).get(name)
            if planned_id is not None and self.docker.image_id(service["image"]) != planned_id:
                raise PermissionDenied(
                    f"image {service['image']!r} of service {name!r} is not the image that was scanned "
                    "and planned; nothing was started; run compose_plan again"
                )
        services = sorted(model["services"])
        done: set[str] = set()
        self.docker.ledger.record(f"compose:{project}", identity.subject)

        def on_event(event: dict[str, Any]) -> None:
            text, status = str(event.get("id", "")), str(event.get("status", ""))
            if text.startswith("Container ") and status == "Done" and str(event.get("text")) == "Started":
                done.add(text)
                if progress is not None:
                    progress(len(done), len(services), f"{text.removeprefix('Container ')} started")

        work = self.cli.work_dir()
        try:
            path = work / "compose.json"
            path.write_text(json.dumps(model))
            self.cli.stream(
                [
                    "--project-name",
                    project,
                    "--file",
                    str(path),
                    "--project-directory",
                    str(root),
                    "up",
                    "--detach",
                    "--pull",
                    "never",
                    "--no-build",
                    "--remove-orphans",
                ],
                cwd=root,
                what=f"compose up {project}",
                on_event=on_event,
            )
        finally:
            path.unlink(missing_ok=True)
            work.rmdir()
        return ComposeUp(plan_id=stored.plan_id, sha256=stored.sha256, project=project, services=services)

    # ------------------------------------------------------------------ reads and down

    def _project(self, project: str) -> str:
        if not PROJECT_NAME.fullmatch(project):
            raise InvalidArgument(f"project {project[:60]!r} must be lowercase letters, digits, '_' or '-'")
        return project

    def ps(self, project: str) -> list[ComposeContainer]:
        project = self._project(project)
        out = self.cli.run(
            ["--project-name", project, "ps", "--all", "--format", "json"], what=f"compose ps {project}"
        )
        rows = [json.loads(line) for line in out.splitlines() if line.strip().startswith("{")]
        return [
            ComposeContainer(
                service=str(r.get("Service", "")),
                name=str(r.get("Name", "")),
                id=str(r.get("ID", ""))[:12],
                image=str(r.get("Image", "")),
                state=str(r.get("State", "")),
                status=str(r.get("Status", "")),
            )
            for r in rows
        ]

    def logs(self, project: str, *, service: str | None, tail: int, max_chars: int) -> ComposeLogs:
        project = self._project(project)
        if not 1 <= tail <= self.docker.settings.log_tail_max:
            raise InvalidArgument(f"tail must be between 1 and {self.docker.settings.log_tail_max} lines")
        args = ["--project-name", project, "logs", "--no-color", "--tail", str(tail)]
        if service is not None:
            args.append(self._project(service))
        text, cut = clip(redact_text(self.cli.run(args, what=f"compose logs {project}")), max_chars)
        return ComposeLogs(project=project, service=service, text=text, truncated=cut)

    def down(self, project: str, *, identity: Identity) -> ComposeDown:
        project = self._project(project)
        key = f"compose:{project}"
        self.docker.ledger.require(
            key,
            caller=identity.subject,
            admin=identity.role == "admin",
            what="compose project",
            verb="take down",
            shown=project,
        )
        before = [str((c.get("Names") or ["/"])[0]).lstrip("/") for c in self._containers(project)]
        self.cli.run(["--project-name", project, "down", "--remove-orphans"], what=f"compose down {project}")
        self.docker.ledger.forget(key)
        return ComposeDown(project=project, removed=sorted(before))
