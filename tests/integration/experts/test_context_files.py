"""Files attached to a question, against the FAKE providers (which record every request body):
the scanner's path policy, size bounds, secrets redacted before anything leaves, and images in each
wire format's own image block (refused up front for providers that take none)."""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from servers.experts.circle_ops import AskRequest
from shared.errors import InvalidArgument, PermissionDenied
from shared.policy import Policy
from shared.policy_settings import PolicySettings
from tests.integration.experts.circle_setup import KEY_ENV, circle_on, fake_settings
from tests.integration.experts.conftest import FAKE_KEY
from tests.integration.experts.fake_providers import Behaviour, FakeProviders, images_in, prompt_text

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

# Shapes the redaction knows, planted in a file the caller attaches.
SECRETS = {
    "github": "ghp_" + "R8x2Kq9ZtL4mN7vB3cX6yH1jW5pA0sD2fG8e",
    "aws": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ9kLmN2pX",
    "password": "hunter2-but-much-longer-0xC0FFEE",
}
SOURCE = f"""import os

GITHUB_TOKEN = "{SECRETS["github"]}"
AWS_SECRET_ACCESS_KEY = "{SECRETS["aws"]}"
DATABASE_PASSWORD = "{SECRETS["password"]}"


def connect():
    return os.environ["DB_URL"]
"""

EXPERTS = [
    {"name": "claude", "provider": "anthropic", "model": "claude-1"},
    {"name": "gemini", "provider": "gemini", "model": "gemini-1"},
    {"name": "gpt", "provider": "openai", "model": "gpt-1"},
]


def tiny_png() -> bytes:
    """A valid 1x1 PNG, built here (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "settings.py").write_text(SOURCE)
    (root / "diagram.png").write_bytes(tiny_png())
    return root


def policy_for(*roots: Path) -> Policy:
    return Policy(PolicySettings(scan_roots=list(roots)))


def answering(fake: FakeProviders) -> None:
    for model in ("claude-1", "gemini-1", "gpt-1", "local-1"):
        fake.script[model] = Behaviour(answer="Looks fine.\nVERDICT: yes | CONFIDENCE: 0.7")


async def test_a_planted_secret_never_reaches_any_provider(fake: FakeProviders, project: Path) -> None:
    answering(fake)
    check = policy_for(project).check_scan_path
    async with circle_on(fake_settings(fake, EXPERTS), FAKE_KEY, check_path=check) as circle:
        report = await circle.ask(
            AskRequest(question="Is this config safe to commit?", files=["settings.py"], synthesize=True)
        )
    assert report.answered == 3
    assert len(fake.seen) == 4  # three answers and the chairman
    for seen in fake.seen:
        sent = json.dumps(seen.body)
        for secret in SECRETS.values():
            assert secret not in sent, (seen.path, secret)
    answer_prompts = [prompt_text(s.body) for s in fake.seen if '<file path="' in prompt_text(s.body)]
    assert len(answer_prompts) == 3
    assert all("[REDACTED]" in p and 'return os.environ["DB_URL"]' in p for p in answer_prompts)
    [info] = report.attachments
    assert (info.path, info.kind, info.redactions) == (str((project / "settings.py").resolve()), "text", 3)


async def test_paths_outside_the_allowed_folders_are_refused_before_any_call(
    fake: FakeProviders, project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("private")
    (project / "escape").symlink_to(outside)
    os.mkfifo(project / "pipe")
    (project / "big.txt").write_text("x" * 300_001)
    (project / "blob.bin").write_bytes(b"\x7fELF\x00\x01\x02")
    check = policy_for(project).check_scan_path
    refused = {
        str(outside): "outside the allowed roots",
        "../elsewhere.txt": "outside the allowed roots",
        "escape": "outside the allowed roots",  # a symlink is resolved before the check
        "pipe": "device, FIFO or socket",
        "big.txt": "over the limit",
        "blob.bin": "binary file",
        ".": "not a regular file",
        "missing.txt": "not a regular file",
    }
    async with circle_on(
        fake_settings(fake, EXPERTS, max_file_bytes=300_000), FAKE_KEY, check_path=check
    ) as c:
        for path, message in refused.items():
            with pytest.raises((InvalidArgument, PermissionDenied), match=message):
                await c.ask(AskRequest(question="q?", files=[path]))
        with pytest.raises(InvalidArgument, match="at most 8 files"):
            await c.ask(AskRequest(question="q?", files=["settings.py"] * 9))
    async with circle_on(fake_settings(fake, EXPERTS), FAKE_KEY, check_path=Policy().check_scan_path) as c:
        with pytest.raises(PermissionDenied, match="configure \\[policy\\] scan_roots"):
            await c.ask(AskRequest(question="q?", files=["settings.py"]))
    assert not fake.seen


@pytest.mark.parametrize(
    ("expert", "shape"),
    [
        ("claude", lambda b: b["messages"][0]["content"][0]["source"]["type"] == "base64"),
        ("gemini", lambda b: "inlineData" in b["contents"][0]["parts"][1]),
        ("gpt", lambda b: b["messages"][-1]["content"][1]["image_url"]["url"].startswith("data:image/png")),
    ],
)
async def test_images_go_in_each_wire_formats_image_block(
    fake: FakeProviders, project: Path, expert: str, shape: Any
) -> None:
    answering(fake)
    check = policy_for(project).check_scan_path
    async with circle_on(fake_settings(fake, EXPERTS), FAKE_KEY, check_path=check) as circle:
        report = await circle.ask(
            AskRequest(question="What does the diagram show?", experts=[expert], files=["diagram.png"])
        )
    assert report.answered == 1, report.experts  # the fake refuses a malformed image block (400)
    [seen] = fake.seen
    assert shape(seen.body)
    assert images_in(seen.body) == [("image/png", base64.b64encode(tiny_png()).decode())]
    assert report.attachments[0].kind == "image"


async def test_providers_that_take_no_images_are_refused_with_what_to_do(
    fake: FakeProviders, project: Path
) -> None:
    answering(fake)
    experts = [*EXPERTS, {"name": "local", "provider": "compat", "model": "local-1"}]
    check = policy_for(project).check_scan_path
    async with circle_on(fake_settings(fake, experts), FAKE_KEY, check_path=check) as circle:
        with pytest.raises(InvalidArgument) as refused:
            await circle.ask(AskRequest(question="What is it?", files=["diagram.png"]))
        assert not fake.seen
        assert "local (provider compat, openai_compatible)" in str(refused.value)
        assert "claude, gemini, gpt" in str(refused.value) and "accepts_images = true" in str(refused.value)
    vision = {"name": "vision", "kind": "openai_compatible", "base_url": fake.openai_url,
              "api_key_env": KEY_ENV, "accepts_images": True}  # fmt: skip
    experts[-1]["provider"] = "vision"
    settings = fake_settings(fake, experts, extra_providers=[vision])
    async with circle_on(settings, FAKE_KEY, check_path=check) as circle:
        report = await circle.ask(
            AskRequest(question="What is it?", experts=["local"], files=["diagram.png"])
        )
    assert report.answered == 1
    assert len(images_in(fake.seen[0].body)) == 1
