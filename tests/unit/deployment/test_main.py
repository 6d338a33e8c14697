"""`python -m servers.deployment` builds the deployment server from the configuration and serves stdio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from servers.deployment import __main__ as entry


def test_main_serves_the_configured_server_over_stdio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[audit]\npath = "{tmp_path / "audit.jsonl"}"\n[policy.tiers]\ndeployment = "write"\n')
    served: list[Any] = []
    monkeypatch.setattr(entry, "run_stdio", lambda server, runtime: served.append((server, runtime)))

    entry.main(["--config", str(config)])

    ((server, runtime),) = served
    assert server.name == "deployment"
    assert runtime.tier_for("deployment") == "write"


def test_main_refuses_an_invalid_deployment_section(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[deployment]\nplan_ttl_s = -1\n")

    with pytest.raises(Exception, match="plan_ttl_s"):
        entry.main(["--config", str(config)])
