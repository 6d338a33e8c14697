"""`scan_image`: an image on the configured Docker engine, read through the Engine API (no registry).

The image is saved (`GET /images/{name}/get`) into a private temporary file, at most
`image_max_bytes`, then read as records (image_layers_ops); nothing of it is extracted or run. The
packages found go through the same advisory sources as a project's lock files; the image's
configuration and files are checked for running as root, secrets in the environment, in the build
history and in any layer (also files a later layer deleted), setuid/setgid and world-writable files.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

from servers.security_scan.audit_ops import DependencyAudit, advisory_findings
from servers.security_scan.findings_ops import fingerprint, redact
from servers.security_scan.image_inventory_ops import inventory
from servers.security_scan.image_layers_ops import (
    ImageError,
    ImageView,
    read_saved_image,
    secret_kinds,
    special_bits,
)
from servers.security_scan.models import SEVERITY_ORDER, Finding, ImageScan, ScannerRun, ScanSummary, Severity
from servers.security_scan.sbom_ops import cyclonedx
from servers.security_scan.settings import SecurityScanSettings
from shared import image_gate
from shared.errors import InvalidArgument, NotFound, UpstreamUnavailable
from shared.redaction import redact_text

SPECIAL_KEPT = 50  # setuid / world-writable findings listed one by one; the rest counted in one
_ROOT_USERS = ("", "root", "0", "0:0", "root:root", "root:0", "0:root")


class ImageSource:
    """The Docker engine images are read from (a small interface: tests may hand another engine)."""

    def __init__(self, docker_host: str, *, timeout_s: float) -> None:
        import docker  # the docker package loads requests & co.: only when scan_image is configured

        self._docker = docker
        self.client = docker.DockerClient(base_url=docker_host, timeout=timeout_s)

    def save(self, image: str, target: Path, *, max_bytes: int) -> dict[str, Any]:
        """Write the saved image to `target`; its engine attributes. Blocking."""
        errors = self._docker.errors
        try:
            found = self.client.images.get(image)
        except errors.ImageNotFound as exc:
            raise NotFound(f"no image {image!r} on the engine: build or pull it there first") from exc
        except errors.DockerException as exc:
            raise UpstreamUnavailable(f"the Docker engine did not answer: {str(exc)[:200]}") from exc
        attrs: dict[str, Any] = found.attrs
        if int(attrs.get("Size") or 0) > max_bytes:
            raise InvalidArgument(
                f"{image} is {attrs.get('Size')} bytes, more than image_max_bytes ({max_bytes})"
            )
        written = 0
        try:
            with target.open("wb") as out:
                for chunk in found.save(named=False):
                    written += len(chunk)
                    if written > max_bytes:
                        raise InvalidArgument(
                            f"{image} saves to more than image_max_bytes ({max_bytes}) bytes"
                        )
                    out.write(chunk)
        except errors.DockerException as exc:
            raise UpstreamUnavailable(
                f"the Docker engine failed to export {image}: {str(exc)[:200]}"
            ) from exc
        return attrs

    def close(self) -> None:
        self.client.close()


def _finding(
    rule: str,
    severity: Severity,
    path: str,
    message: str,
    *,
    context: str,
    fix: str,
    line: int = 0,
    snippet: str = "",
) -> Finding:
    return Finding(
        id=fingerprint("image", rule, path, context, 1),
        scanner="image",
        rule_id=rule,
        severity=severity,
        category="container",
        path=path,
        line=line,
        message=message,
        snippet=snippet,
        fix_hint=fix,
    )


def misconfigurations(view: ImageView, image: str) -> list[Finding]:
    config = view.config.get("config") or {}
    out = []
    user = str(config.get("User") or "")
    if user in _ROOT_USERS:
        out.append(
            _finding(
                "image-root-user",
                "medium",
                "config",
                f"{image} runs as root (no USER, or USER root).",
                context="user",
                fix="Add a USER instruction with an unprivileged uid (e.g. USER 10001).",
            )
        )
    for item in config.get("Env") or []:
        key = str(item).split("=", 1)[0]
        if redact_text(str(item)) != str(item):
            out.append(
                _finding(
                    "image-secret-in-env",
                    "high",
                    "config",
                    f"the environment variable {key} holds a "
                    "secret, readable by anyone who can pull the image.",
                    context=f"env\0{key}",
                    snippet=redact(str(item)),
                    fix="Pass secrets at run time (a mounted secret), not in ENV.",
                )
            )
    for n, step in enumerate(view.config.get("history") or []):
        created = str(step.get("created_by", "")) if isinstance(step, dict) else ""
        for _, kind in secret_kinds(created):
            out.append(
                _finding(
                    "image-secret-in-history",
                    "high",
                    "history",
                    f"build step {n} holds a secret ({kind}) in its command line, kept in the image history.",
                    context=f"{n}\0{kind}",
                    snippet=redact(created[:200]),
                    fix="Use build secrets (RUN --mount=type=secret), never ARG or inline values.",
                )
            )
    for s in view.secrets:
        current = view.entries.get(s.path)
        removed = current is None or current.layer != s.layer
        where = f"layer {s.layer}" + (
            " (deleted by a later layer, still shipped in the image)" if removed else ""
        )
        out.append(
            _finding(
                "image-secret-in-layer",
                "high" if not removed else "critical",
                "/" + s.path,
                f"a secret ({s.kind}) in /{s.path}, {where}.",
                context=f"{s.layer}\0{s.kind}",
                line=s.line,
                fix="Remove it from the build (a deleted file stays in its layer); rotate the secret.",
            )
        )
    special = [(e, bits) for e in view.entries.values() if (bits := special_bits(e))]
    for e, bits in sorted(special, key=lambda x: x[0].path)[:SPECIAL_KEPT]:
        level: Severity = "medium" if "world-writable" in bits else "low"
        out.append(
            _finding(
                f"image-{bits[0]}",
                level,
                "/" + e.path,
                f"/{e.path} is {' and '.join(bits)} (mode {e.mode:o}, uid {e.uid}).",
                context=",".join(bits),
                fix="Drop the bit (chmod u-s,g-s,o-w) unless the image needs it.",
            )
        )
    if len(special) > SPECIAL_KEPT:
        out.append(
            _finding(
                "image-special-files",
                "low",
                "/",
                f"{len(special) - SPECIAL_KEPT} more setuid, setgid or world-writable files not listed.",
                context="more",
                fix="See the listed ones.",
            )
        )
    for entry in view.refused[:SPECIAL_KEPT]:
        out.append(
            _finding(
                "image-path-traversal",
                "high",
                "/",
                f"a layer entry leaves the image root: {entry} (refused, not applied).",
                context=entry,
                fix="Rebuild the image with a trusted tool.",
            )
        )
    return out


class ImageScanner:
    """Scans images of the configured engine with the audit's advisory sources."""

    def __init__(
        self,
        settings: SecurityScanSettings,
        audit: DependencyAudit,
        staging: Path,
        source: ImageSource | None = None,
    ) -> None:
        self.settings = settings
        self.audit = audit
        self.staging = staging
        self._source = source
        self._key = image_gate.load_key(settings.gate_key_file) if settings.gate_key_file else None

    def source(self) -> ImageSource:
        if self._source is None:
            if self.settings.docker_host is None:
                raise InvalidArgument("scan_image needs [security_scan] docker_host")
            self._source = ImageSource(self.settings.docker_host, timeout_s=self.settings.docker_timeout_s)
        return self._source

    async def scan(self, image: str, *, include_sbom: bool) -> tuple[ImageScan, ScanSummary, list[Finding]]:
        started = time.monotonic()
        s = self.settings
        folder = Path(tempfile.mkdtemp(prefix="image-", dir=self.staging))
        try:
            saved = folder / "image.tar"
            attrs = await anyio.to_thread.run_sync(
                lambda: self.source().save(image, saved, max_bytes=s.image_max_bytes)
            )
            try:
                view = await anyio.to_thread.run_sync(
                    lambda: read_saved_image(
                        saved, max_entries=s.image_max_entries, max_file_bytes=s.image_max_file_bytes
                    )
                )
            except ImageError as exc:
                raise InvalidArgument(f"{image} cannot be read: {exc}") from exc
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))
        inv = inventory(view)
        report, problems = await self.audit.check(f"image:{image}", inv.packages, [], [])
        problems = [*inv.notes, *problems]
        findings = advisory_findings(report.advisories, scanner="image") + misconfigurations(view, image)
        findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.path, f.line, f.rule_id))
        image_id = str(attrs.get("Id", ""))
        counts: dict[str, int] = dict(Counter(f.severity for f in findings))
        scan = ImageScan(
            scan_id=uuid.uuid4().hex[:16],
            image=image,
            image_id=image_id,
            repo_digests=list(attrs.get("RepoDigests") or []),
            os=inv.os_name,
            layers=view.layers,
            entries=view.total_entries,
            packages=dict(Counter(p.ecosystem for p in inv.packages)),
            user=str((view.config.get("config") or {}).get("User") or ""),
            complete=not problems,
            problems=problems[:50],
            sources=report.sources,
            total=len(findings),
            by_severity=counts,
            by_category=dict(Counter(f.category for f in findings)),
            refused_entries=len(view.refused),
            duration_s=round(time.monotonic() - started, 3),
        )
        if include_sbom:
            scan.sbom = cyclonedx(image, inv.packages, tool_version="0.1.0", kind="container")
        if self._key is not None:
            scan.attestation = image_gate.issue(
                self._key,
                image_gate.Attestation(
                    image_id=image_id,
                    repo_digests=tuple(scan.repo_digests),
                    counts=counts,
                    complete=scan.complete,
                    scanned_at=time.time(),
                ),
            )
        run = ScannerRun(
            name="image",
            status="ran" if not problems else "partial",
            files=view.total_entries,
            findings=len(findings),
            duration_s=scan.duration_s,
            detail="; ".join(problems)[:1000] or None,
        )
        summary = ScanSummary(
            scan_id=scan.scan_id,
            target=f"image:{image}",
            root=image_id,
            duration_s=scan.duration_s,
            files_scanned=view.total_entries,
            complete=scan.complete,
            failed_scanners=[],
            scanners=[run],
            total=len(findings),
            by_severity=counts,
            by_scanner={"image": len(findings)},
            by_category=scan.by_category,
        )
        return scan, summary, findings
