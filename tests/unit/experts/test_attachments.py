"""Attached files: recognised by their bytes, bounded, and redacted as they are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from servers.experts.attachments import FileLimits, files_block, image_type, read_attachments
from shared.errors import InvalidArgument

LIMITS = FileLimits(max_files=3, max_text_bytes=1000, max_total_bytes=1500, max_image_bytes=100)


@pytest.mark.parametrize(
    ("head", "media"),
    [
        (b"\x89PNG\r\n\x1a\nrest", "image/png"),
        (b"\xff\xd8\xff\xe0rest", "image/jpeg"),
        (b"GIF89a...", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"XXXX\x00\x00\x00\x00WEBPVP8 ", None),  # WEBP without RIFF
        (b"not an image", None),
    ],
)
def test_images_are_recognised_by_their_bytes(head: bytes, media: str | None) -> None:
    assert image_type(head) == media


def test_text_is_redacted_as_it_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("API_TOKEN=s3cr3t-value-that-is-long-enough\nname=demo\n")
    [attached] = read_attachments(["a.env"], lambda p: tmp_path / p, LIMITS)
    assert attached.text is not None and "s3cr3t" not in attached.text and "name=demo" in attached.text
    assert attached.info.redactions == 1
    block = files_block([attached])
    assert block is not None and block.startswith("Attached files:\n<file path=")


def test_bounds_and_duplicates(tmp_path: Path) -> None:
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text("x" * 800)
    check = lambda p: tmp_path / p  # noqa: E731 - a stand-in for the policy check
    assert len(read_attachments(["a.txt", "a.txt"], check, LIMITS)) == 1
    with pytest.raises(InvalidArgument, match="add up to more than 1500 bytes"):
        read_attachments(["a.txt", "b.txt"], check, LIMITS)
    with pytest.raises(InvalidArgument, match="at most 3 files"):
        read_attachments(["a.txt"] * 4, check, LIMITS)
    (tmp_path / "big.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 200)
    with pytest.raises(InvalidArgument, match="over the image limit"):
        read_attachments(["big.png"], check, LIMITS)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(InvalidArgument, match="not UTF-8"):
        read_attachments(["latin1.txt"], check, LIMITS)
    with pytest.raises(InvalidArgument, match="no path policy"):
        read_attachments(["a.txt"], None, LIMITS)
