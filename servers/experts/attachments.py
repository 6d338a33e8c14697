"""Files attached to a question: read under the scanner's path policy, bounded, redacted.

A path goes through the same check as a scan target (`Policy.check_scan_path`: inside `[policy]
scan_roots`, symlinks resolved, no devices or FIFOs), must be a regular file, and is read only up to
its size limit. Text is decoded as UTF-8 and every secret in it is replaced by `[REDACTED]`
(`shared.redaction.redact_text`) here, before any prompt is built, so no provider ever receives
it. Images (PNG, JPEG, GIF, WebP, recognised by their bytes, not their names) are kept as bytes for
the providers whose wire format takes an image block; they cannot be redacted, which the docs say.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from servers.experts.models import AttachmentInfo
from servers.experts.wire_formats import ImagePart
from shared.errors import InvalidArgument
from shared.redaction import REDACTED, redact_text

PathCheck = Callable[[str], Path]
"""`Policy.check_scan_path`: the resolved path, or `InvalidArgument` / `PermissionDenied`."""

_IMAGE_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),  # RIFF....WEBP
)


@dataclass(frozen=True, slots=True)
class FileLimits:
    max_files: int
    max_text_bytes: int
    max_total_bytes: int
    max_image_bytes: int


@dataclass(frozen=True, slots=True)
class Attachment:
    info: AttachmentInfo
    text: str | None = None
    image: ImagePart | None = None


def image_type(head: bytes) -> str | None:
    """The media type of an image by its first bytes; None for anything else."""
    for magic, offset, media_type in _IMAGE_MAGIC:
        if head[offset : offset + len(magic)] == magic and (offset == 0 or head.startswith(b"RIFF")):
            return media_type
    return None


def read_attachments(paths: Sequence[str], check: PathCheck | None, limits: FileLimits) -> list[Attachment]:
    """Read every attached file, or refuse the whole question naming the file and what to do."""
    if not paths:
        return []
    if check is None:
        raise InvalidArgument("files cannot be attached here: this server has no path policy")
    if len(paths) > limits.max_files:
        raise InvalidArgument(f"attach at most {limits.max_files} files (got {len(paths)})")
    seen: set[Path] = set()
    out: list[Attachment] = []
    total = 0
    for raw in paths:
        path = check(raw)  # raises PermissionDenied / InvalidArgument with the policy's message
        if path in seen:
            continue
        seen.add(path)
        attachment = _read_one(path, limits)
        total += attachment.info.bytes
        if total > limits.max_total_bytes:
            raise InvalidArgument(
                f"the attached files add up to more than {limits.max_total_bytes} bytes; attach fewer "
                "or smaller files (or the relevant excerpt as `context`)"
            )
        out.append(attachment)
    return out


def _read_one(path: Path, limits: FileLimits) -> Attachment:
    if not path.is_file():
        raise InvalidArgument(f"{path} is not a regular file; attach files, not folders")
    ceiling = max(limits.max_text_bytes, limits.max_image_bytes)
    with path.open("rb") as handle:
        data = handle.read(ceiling + 1)  # never more than the limit, even if the file grows
    media_type = image_type(data[:16])
    if media_type is not None:
        if len(data) > limits.max_image_bytes:
            raise InvalidArgument(f"{path} is over the image limit of {limits.max_image_bytes} bytes")
        info = AttachmentInfo(
            path=str(path), kind="image", media_type=media_type, bytes=len(data), redactions=0
        )
        return Attachment(info, image=ImagePart(media_type, base64.b64encode(data).decode("ascii")))
    if len(data) > limits.max_text_bytes:
        raise InvalidArgument(
            f"{path} is over the limit of {limits.max_text_bytes} bytes for a text file; attach an excerpt"
        )
    if b"\x00" in data:
        raise InvalidArgument(f"{path} is a binary file; attach text files or PNG/JPEG/GIF/WebP images")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument(f"{path} is not UTF-8 text; attach text files or images") from None
    redacted = redact_text(text)
    redactions = redacted.count(REDACTED) - text.count(REDACTED)
    info = AttachmentInfo(
        path=str(path), kind="text", media_type="text/plain", bytes=len(data), redactions=max(0, redactions)
    )
    return Attachment(info, text=redacted)


def files_block(attachments: Sequence[Attachment]) -> str | None:
    """The attached text files as one prompt section (None when there are none)."""
    texts = [a for a in attachments if a.text is not None]
    if not texts:
        return None
    parts = [f'<file path="{a.info.path}">\n{a.text}\n</file>' for a in texts]
    return "Attached files:\n" + "\n".join(parts)


__all__ = ["Attachment", "FileLimits", "PathCheck", "files_block", "image_type", "read_attachments"]
