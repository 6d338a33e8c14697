"""The error planes, the identity record, and the public names of the pure modules."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from dataclasses import FrozenInstanceError

import pytest

import shared
from shared.errors import (
    ConfigError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    RateLimited,
    ToolFailure,
    UpstreamUnavailable,
)
from shared.identity import Identity


@pytest.mark.parametrize(
    ("cls", "reason"),
    [
        (InvalidArgument, "invalid_argument"),
        (NotFound, "not_found"),
        (PermissionDenied, "permission_denied"),
        (UpstreamUnavailable, "upstream_unavailable"),
    ],
)
def test_expected_failures_carry_the_reason_the_model_sees(cls: type[ToolFailure], reason: str) -> None:
    error = cls("do this instead")
    assert isinstance(error, ToolFailure)
    assert str(error) == "do this instead"
    assert error.reason == reason


def test_rate_limited_carries_when_to_retry() -> None:
    error = RateLimited("slow down", retry_after_ms=1500, rule="identity")
    assert isinstance(error, ToolFailure)
    assert (error.retry_after_ms, error.rule) == (1500, "identity")


def test_config_errors_are_another_plane() -> None:
    assert not issubclass(ConfigError, ToolFailure)


def test_importing_the_errors_never_loads_the_sdk() -> None:
    code = "import sys, shared.errors; print('mcp' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_identity_is_immutable_and_hashable() -> None:
    who = Identity("alice", "viewer", "local")
    assert who.scopes == frozenset()
    with pytest.raises(FrozenInstanceError):
        who.role = "admin"  # type: ignore[misc]
    assert {who, Identity("alice", "viewer", "local")} == {who}


@pytest.mark.parametrize("module", [f"shared.{info.name}" for info in pkgutil.iter_modules(shared.__path__)])
def test_all_lists_exactly_the_public_names(module: str) -> None:
    mod = importlib.import_module(module)
    exported = set(mod.__all__)
    for name in exported:
        assert hasattr(mod, name), f"{module}.__all__ names missing {name}"
    public = {
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and getattr(value, "__module__", None) == module
        and (callable(value) or isinstance(value, type))
    }
    assert public <= exported, f"{module} defines public names not in __all__: {sorted(public - exported)}"
