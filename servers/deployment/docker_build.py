"""`docker_build`: an image from a folder inside the allowed roots, with no network in its steps.

The engine still fetches the `FROM` images and `ADD <url>` sources itself, outside the build's
network-less steps: those are read from the Dockerfile first (`build_inputs`) and the policy decides
(registry allowlist, URL allowlist) before the engine sees the build.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Final

from servers.deployment.build_inputs import build_inputs
from servers.deployment.docker_hardening import MANAGED_LABEL, OWNER_LABEL
from servers.deployment.docker_ops import DockerOps, docker_errors
from servers.deployment.models import BuiltImage
from shared.errors import InvalidArgument
from shared.output import clip
from shared.redaction import redact_text
from shared.validation import image_ref, path_within

__all__ = ["DockerBuilds", "ProgressCallback"]

_STEP: Final = re.compile(r"^Step (\d+)/(\d+) :")

ProgressCallback = Callable[[float, float | None, str], None]


class DockerBuilds:
    """Builds on the engine `docker` drives, recorded in its ownership ledger."""

    def __init__(self, docker: DockerOps) -> None:
        self.docker = docker

    def check_build_inputs(self, dockerfile: Path) -> None:
        """Refuse a build whose base images or `ADD` URLs the policy does not allow (checked first,
        because the engine fetches them itself, outside the build's network-less steps)."""
        try:
            text = dockerfile.read_text(errors="replace")
        except OSError as exc:
            raise InvalidArgument(f"the Dockerfile cannot be read: {exc.strerror}") from exc
        inputs = build_inputs(text)
        for url in inputs.urls:
            self.docker.policy.check_url(url)
        for image in inputs.images:
            self.docker.ensure_image(image_ref(image))

    def build_context(self, context: str) -> Path:
        """The build context folder, inside the build roots (or the policy's scan roots)."""
        settings = self.docker.settings
        if settings.build_roots:
            path = path_within(context, settings.build_roots, must_exist=True, what="build context")
        else:
            path = self.docker.policy.check_scan_path(context)
        if not path.is_dir():
            raise InvalidArgument(f"build context {context!r} must be a folder")
        return path

    def build(
        self,
        context: str,
        *,
        tag: str,
        dockerfile: str = "Dockerfile",
        owner: str,
        progress: ProgressCallback | None = None,
    ) -> BuiltImage:
        """Build an image from a context folder, without network, reporting each Dockerfile step."""
        root = self.build_context(context)
        tag = image_ref(tag)
        dockerfile_path = path_within(dockerfile, [root], must_exist=True, what="dockerfile")
        if not dockerfile_path.is_file():
            raise InvalidArgument(f"dockerfile {dockerfile!r} must be a file inside the build context")
        self.check_build_inputs(dockerfile_path)
        client = self.docker.client
        lines: list[str] = []
        steps = 0
        image_id = ""
        with docker_errors(f"build {tag}"):
            stream = client.api.build(
                path=str(root),
                dockerfile=str(dockerfile_path.relative_to(root)),
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="none",
                labels={MANAGED_LABEL: "true", OWNER_LABEL: owner[:63]},
                decode=True,
                timeout=int(self.docker.settings.build_timeout_s),
            )
            for chunk in stream:
                if "error" in chunk:
                    detail = redact_text(str(chunk.get("error", "")))[:2000]
                    raise InvalidArgument(f"build of {tag} failed: {detail}")
                text = str(chunk.get("stream", ""))
                if aux := chunk.get("aux"):
                    image_id = str(aux.get("ID", image_id))
                if not text.strip():
                    continue
                lines.extend(text.rstrip("\n").splitlines())
                if match := _STEP.match(text):
                    steps = int(match[1])
                    if progress is not None:
                        progress(float(steps), float(match[2]), text.strip()[:200])
        if not image_id:
            with docker_errors(f"inspect {tag}"):
                image_id = client.api.inspect_image(tag)["Id"]
        tail, _ = clip(redact_text("\n".join(lines[-40:])), 4000)
        self.docker.ledger.record(image_id, owner)
        return BuiltImage(id=image_id, tag=tag, steps=steps, log_tail=tail)
