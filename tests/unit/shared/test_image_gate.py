"""The image gate: attestations (signed, bound to content, expiring), what a manifest runs, and the
deployment side's refusals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from shared import image_gate as gate
from shared.errors import InvalidArgument, PermissionDenied

KEY = b"k" * 40
IMAGE = "sha256:" + "a" * 64


def _token(**change: object) -> str:
    fields: dict[str, object] = {
        "image_id": IMAGE,
        "repo_digests": ("app@sha256:" + "b" * 64,),
        "counts": {"low": 2},
        "complete": True,
        "scanned_at": time.time(),
    }
    fields.update(change)
    return gate.issue(KEY, gate.Attestation(**fields))  # type: ignore[arg-type]


def test_gate_allows_a_recent_clean_complete_scan_of_this_image() -> None:
    now = time.time()
    ok = gate.verify(KEY, _token(), min_severity="high", max_age_s=3600, now=now, image_id=IMAGE)
    assert ok.allowed, ok.reason
    by_digest = gate.verify(
        KEY, _token(), min_severity="high", max_age_s=3600, now=now, repo_digest="app@sha256:" + "b" * 64
    )
    assert by_digest.allowed


@pytest.mark.parametrize(
    ("token", "kwargs", "reason"),
    [
        (lambda: _token(counts={"critical": 1}), {}, "at or above high"),
        (lambda: _token(complete=False), {}, "incomplete"),
        (lambda: _token(scanned_at=time.time() - 10_000), {}, "old"),
        (lambda: _token(), {"image_id": "sha256:" + "c" * 64}, "not of"),
        (lambda: _token()[:-3] + "AAA", {}, "signature"),
        (lambda: gate.issue(b"x" * 40, gate.Attestation(IMAGE, (), {}, True, time.time())), {}, "signature"),
        (lambda: "garbage", {}, "not an image scan token"),
    ],
)
def test_gate_refuses(token: object, kwargs: dict[str, str], reason: str) -> None:
    args = {"image_id": IMAGE, **kwargs}
    decision = gate.verify(KEY, token(), min_severity="high", max_age_s=3600, now=time.time(), **args)  # type: ignore[operator]
    assert not decision.allowed and reason in decision.reason


def test_gate_key_file_must_be_private(tmp_path: Path) -> None:
    key = tmp_path / "gate.key"
    gate.new_key(key)
    assert len(gate.load_key(key)) >= 32
    key.chmod(0o644)
    with pytest.raises(gate.GateKeyError, match="chmod 600"):
        gate.load_key(key)


def test_pod_images_finds_every_container_and_image_volume() -> None:
    cronjob = {
        "kind": "CronJob",
        "spec": {
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {
                            "initContainers": [{"name": "i", "image": "init:1"}],
                            "containers": [{"name": "a", "image": "app:1"}, {"name": "b", "image": "app:1"}],
                            "ephemeralContainers": [{"name": "e", "image": "debug:1"}],
                            "volumes": [{"name": "v", "image": {"reference": "data:1"}}, {"name": "w"}],
                        }
                    }
                }
            }
        },
    }
    assert gate.pod_images(cronjob) == ["init:1", "app:1", "debug:1", "data:1"]
    # A custom resource embedding a pod template counts; a container without an image string is
    # reported as "" (refused as unpinned), never skipped.
    custom = {"kind": "Rollout", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": 7}]}}}}
    assert gate.pod_images(custom) == [""]
    assert gate.pod_images({"kind": "ConfigMap", "data": {"image": "x"}}) == []


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "gate.key"
    gate.new_key(path)
    return path


def _gate(key_file: Path, **settings: Any) -> gate.ImageGate:
    return gate.ImageGate(
        gate.ImageGateSettings(**{"min_severity": "high", "key_file": key_file, **settings})
    )


def test_the_gate_is_off_unless_configured(tmp_path: Path) -> None:
    off = gate.ImageGate(gate.ImageGateSettings())
    assert not off.enabled
    off.require_engine_image(IMAGE, shown="x", tokens=None)
    off.require_pinned(["app:latest"], tokens=None)
    with pytest.raises(ValidationError, match="needs key_file"):
        gate.ImageGateSettings(min_severity="high")
    with pytest.raises(gate.GateKeyError, match="cannot read"):
        gate.ImageGate(gate.ImageGateSettings(min_severity="high", key_file=tmp_path / "missing"))


def test_engine_images_need_a_token_for_their_id(key_file: Path) -> None:
    on = _gate(key_file)
    key = gate.load_key(key_file)
    token = gate.issue(key, gate.Attestation(IMAGE, (), {"medium": 4}, True, time.time()))
    on.require_engine_image(IMAGE, shown="app:1", tokens=["garbage", token])  # any one token may vouch
    with pytest.raises(PermissionDenied, match="no image scan was given"):
        on.require_engine_image(IMAGE, shown="app:1", tokens=[])
    with pytest.raises(PermissionDenied, match="not of"):
        on.require_engine_image("sha256:" + "9" * 64, shown="app:1", tokens=[token])
    with pytest.raises(PermissionDenied, match="at or above medium"):
        _gate(key_file, min_severity="medium").require_engine_image(IMAGE, shown="app:1", tokens=[token])
    with pytest.raises(PermissionDenied, match="old"):
        _gate(key_file, max_age_s=60).require_engine_image(
            IMAGE,
            shown="app:1",
            tokens=[gate.issue(key, gate.Attestation(IMAGE, (), {}, True, time.time() - 120))],
        )
    with pytest.raises(InvalidArgument, match="at most"):
        on.require_engine_image(IMAGE, shown="app:1", tokens=[token] * 65)


def test_manifest_images_must_be_pinned_and_covered(key_file: Path) -> None:
    on = _gate(key_file)
    digest = "sha256:" + "b" * 64
    token = gate.issue(
        gate.load_key(key_file), gate.Attestation(IMAGE, (f"app@{digest}",), {}, True, time.time())
    )
    on.require_pinned([f"mirror.example:5000/team/app@{digest}"], tokens=[token])
    with pytest.raises(PermissionDenied) as refused:
        on.require_pinned(["app:1", "", f"app:1@{digest}", "other@sha256:" + "c" * 64], tokens=[token])
    message = str(refused.value)
    assert message.count("not pinned by digest") == 2 and "does not cover" in message
    assert "app:1@" not in message.split("|")[2]  # a tag beside the digest: the digest is what runs
