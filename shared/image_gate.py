"""The cross-server image gate: a signed attestation that `scan_image` found an image clean enough.

Neither server imports the other; both import this module and share one key file:

1. security-scan's `scan_image` signs an `Attestation` with `issue(key, …)` when
   `[security_scan] gate_key_file` is set, and returns the token with the scan (`attestation`);
2. the model passes that token to the deployment server in an `image_scans` argument
   (`docker_run`, `k8s_plan`, `helm_plan`, `compose_plan`);
3. the deployment server, configured with `[deployment.image_gate] min_severity` and the same key
   file, asks `ImageGate` before anything runs, and refuses unless a token shows a complete,
   recent scan of exactly that image with no finding at or above the threshold.

The token binds the image by content — the image id the engine resolved, or the manifest digest a
Kubernetes manifest pins (`name@sha256:…`) — so it cannot be replayed for another image or a
re-tagged one; the HMAC means the model cannot write one; `scanned_at` and `max_age_s` make an old
scan expire as new advisories appear. A tag alone in a manifest cannot be checked (it may point at
another image tomorrow), so with the gate on every Kubernetes image must be pinned by digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.admission.templates import pod_templates
from shared.errors import InvalidArgument, PermissionDenied

__all__ = [
    "Attestation",
    "GateDecision",
    "GateKeyError",
    "ImageGate",
    "ImageGateSettings",
    "issue",
    "load_key",
    "new_key",
    "pod_images",
    "verify",
]

SEVERITIES: Final = ("info", "low", "medium", "high", "critical")
MIN_KEY_BYTES: Final = 32
VERSION: Final = 1
MAX_TOKENS: Final = 64
MAX_TOKEN_CHARS: Final = 8192
_DOMAIN: Final = b"code-mcp-image-gate\0"
_DIGEST: Final = re.compile(r"@(sha256:[0-9a-f]{64})$")
_CONTAINER_LISTS: Final = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True, slots=True)
class Attestation:
    """What one image scan found, bound to the image's content."""

    image_id: str  # sha256:<config digest>, as the Docker engine names the image
    repo_digests: tuple[str, ...]  # name@sha256:<manifest digest>, as a registry names it
    counts: dict[str, int]  # unsuppressed findings per severity
    complete: bool  # every part of the scan ran (package databases read, advisory sources answered)
    scanned_at: float  # UNIX time
    scanner: str = "code-mcp security-scan"
    version: int = VERSION


@dataclass(frozen=True, slots=True)
class GateDecision:
    allowed: bool
    reason: str
    attestation: Attestation | None = field(default=None)


class GateKeyError(ValueError):
    """The key file is missing, too short, or readable by others."""


# --------------------------------------------------------------------------- the key and the token


def load_key(path: Path) -> bytes:
    """The shared HMAC key: a file of at least 32 bytes that only its owner may read."""
    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise GateKeyError(f"cannot read the image gate key {path}: {exc}") from exc
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise GateKeyError(f"the image gate key {path} is readable by others: chmod 600 it")
    if len(data.strip()) < MIN_KEY_BYTES:
        raise GateKeyError(f"the image gate key {path} is shorter than {MIN_KEY_BYTES} bytes")
    return data.strip()


def new_key(path: Path) -> None:
    """Write a fresh random key (mode 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(base64.b64encode(os.urandom(48)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(key: bytes, attestation: Attestation) -> str:
    """`<payload>.<signature>`, both base64url."""
    body = asdict(attestation)
    body["repo_digests"] = list(attestation.repo_digests)
    payload = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    signature = hmac.new(key, _DOMAIN + payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def _digest_of(reference: str) -> str | None:
    match = _DIGEST.search(reference)
    return match.group(1) if match else None


def _read(key: bytes, token: str) -> Attestation | str:
    """The attestation a token carries, or why it carries none."""
    try:
        payload_text, signature_text = token.split(".", 1)
        payload, signature = _unb64(payload_text), _unb64(signature_text)
    except ValueError:
        return "not an image scan token"
    expected = hmac.new(key, _DOMAIN + payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        return "the image scan token's signature does not match: run scan_image again"
    try:
        body = json.loads(payload)
        body["repo_digests"] = tuple(body["repo_digests"])
        attestation = Attestation(**body)
    except (ValueError, TypeError, KeyError):
        return "the image scan token is malformed"
    if attestation.version != VERSION:
        return f"image scan token version {attestation.version} is not understood"
    return attestation


def verify(
    key: bytes,
    token: str,
    *,
    min_severity: str,
    max_age_s: float,
    now: float,
    image_id: str | None = None,
    repo_digest: str | None = None,
) -> GateDecision:
    """Whether `token` shows a complete, recent scan of this image with nothing at or above
    `min_severity`. Give the image id the engine resolved, or the `name@sha256:` reference a
    manifest pins (its digest is compared: the same digest is the same content under any name)."""
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity must be one of {SEVERITIES}")
    wanted = _digest_of(repo_digest) if repo_digest is not None else None
    if image_id is None and wanted is None:
        return GateDecision(False, "the image is not pinned: give its image id or a name@sha256 digest")
    read = _read(key, token)
    if isinstance(read, str):
        return GateDecision(False, read)
    attestation = read
    if image_id is not None and attestation.image_id != image_id:
        return GateDecision(False, f"the scan was of {attestation.image_id}, not of {image_id}", attestation)
    if image_id is None and wanted not in {_digest_of(d) for d in attestation.repo_digests}:
        return GateDecision(False, f"the scan does not cover {repo_digest}", attestation)
    age = now - attestation.scanned_at
    if age > max_age_s or age < -60:
        return GateDecision(
            False, f"the scan is {age / 3600:.1f} h old (limit {max_age_s / 3600:.1f} h)", attestation
        )
    if not attestation.complete:
        return GateDecision(False, "the scan was incomplete: a clean result cannot be claimed", attestation)
    floor = SEVERITIES.index(min_severity)
    blocking = {
        s: n for s, n in attestation.counts.items() if s in SEVERITIES and SEVERITIES.index(s) >= floor and n
    }
    if blocking:
        shown = ", ".join(
            f"{n} {s}" for s, n in sorted(blocking.items(), key=lambda x: -SEVERITIES.index(x[0]))
        )
        return GateDecision(False, f"the image has findings at or above {min_severity}: {shown}", attestation)
    return GateDecision(
        True, f"scanned clean of {min_severity}+ findings {age / 60:.0f} min ago", attestation
    )


# --------------------------------------------------------------------------- what a manifest runs


def pod_images(obj: Any) -> list[str]:
    """Every image a Kubernetes object would run: each container (init, regular, ephemeral) of
    each pod template, and each image volume (`volumes[].image.reference`), in order, unique."""
    found: list[str] = []
    for template in pod_templates(obj):
        spec = template.spec
        for key in _CONTAINER_LISTS:
            for container in _list(spec.get(key)):
                found.append(_image_text(container.get("image")))
        for volume in _list(spec.get("volumes")):
            source = volume.get("image")
            if isinstance(source, Mapping):
                found.append(_image_text(source.get("reference")))
    return list(dict.fromkeys(found))


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _image_text(value: Any) -> str:
    return value if isinstance(value, str) else ""  # "" is refused as unpinned, never skipped


# --------------------------------------------------------------------------- the deployment's gate


class ImageGateSettings(BaseModel):
    """`[deployment.image_gate]`: require a clean `scan_image` before anything runs an image."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_severity: Literal["low", "medium", "high", "critical"] | None = Field(
        default=None,
        description="Refuse an image whose scan found anything at or above this severity, or that has "
        "no recent complete scan at all; unset = no gate",
    )
    key_file: Path | None = Field(
        default=None,
        description="The HMAC key file shared with [security_scan] gate_key_file (mode 0600, >= 32 bytes)",
    )
    max_age_s: float = Field(
        default=86_400.0, gt=0, le=30 * 86_400, description="Oldest scan the gate accepts, in seconds"
    )

    @model_validator(mode="after")
    def _key_with_threshold(self) -> Self:
        if self.min_severity is not None and self.key_file is None:
            raise ValueError("[deployment.image_gate] min_severity needs key_file (the scanner's gate key)")
        return self


class ImageGate:
    """The deployment server's side: refuse an image no valid token vouches for.

    Off (`min_severity` unset) it allows everything and reads no key. On, the key is read at
    construction, so a missing or world-readable key stops the server at start, not at a deploy.
    """

    def __init__(self, settings: ImageGateSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._key = load_key(settings.key_file) if settings.min_severity and settings.key_file else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def _decide(self, tokens: Iterable[str], **image: str) -> GateDecision:
        assert self._key is not None and self.settings.min_severity is not None
        reasons: list[str] = []
        for token in tokens:
            decision = verify(
                self._key,
                token,
                min_severity=self.settings.min_severity,
                max_age_s=self.settings.max_age_s,
                now=self.clock(),
                **image,
            )
            if decision.allowed:
                return decision
            if decision.attestation is not None or len(reasons) < 3:
                reasons.append(decision.reason)
        return GateDecision(False, "; ".join(dict.fromkeys(reasons)) or "no image scan was given")

    def require_engine_image(self, image_id: str, *, shown: str, tokens: list[str] | None) -> None:
        """Refuse unless a token covers the image the engine resolved `shown` to (`image_id`)."""
        if not self.enabled:
            return
        decision = self._decide(_checked(tokens), image_id=image_id)
        if not decision.allowed:
            raise PermissionDenied(_refusal(shown, decision.reason))

    def require_pinned(self, images: Iterable[str], *, tokens: list[str] | None) -> None:
        """Refuse unless every image is pinned by digest and a token covers each digest."""
        if not self.enabled:
            return
        checked = _checked(tokens)
        problems = []
        for image in images:
            if _digest_of(image) is None:
                problems.append(
                    f"image {image[:120]!r} is not pinned by digest (name@sha256:…): a tag may point at "
                    "another image tomorrow, so its scan cannot be checked"
                )
                continue
            decision = self._decide(checked, repo_digest=image)
            if not decision.allowed:
                problems.append(_refusal(image, decision.reason))
        if problems:
            raise PermissionDenied("the image gate refused: " + " | ".join(problems[:10]))


def _checked(tokens: list[str] | None) -> list[str]:
    given = tokens or []
    if len(given) > MAX_TOKENS or any(len(t) > MAX_TOKEN_CHARS for t in given):
        raise InvalidArgument(
            f"image_scans holds at most {MAX_TOKENS} tokens of {MAX_TOKEN_CHARS} characters each"
        )
    return given


def _refusal(shown: str, reason: str) -> str:
    return (
        f"image {shown[:120]!r}: {reason}. Scan it with the security-scan server's scan_image and pass "
        "the scan's attestation in image_scans"
    )
