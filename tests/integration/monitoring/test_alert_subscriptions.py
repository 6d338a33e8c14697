"""`alerts://{endpoint}` is subscribable (2026-07-28 `subscriptions/listen`): a listening client is
told when the alerts change — tested on a real Prometheus whose one alert turns on and off by
itself — and the listen stream is guarded like a read. 2025-era clients read instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated

from shared.auth import hash_api_key
from tests.integration.monitoring.prom_stack import service_process
from tests.support.connect import Connector
from tests.support.services import free_port, require_program

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

FLIP = """\
groups:
  - name: flip
    interval: 1s
    rules:
      - alert: CodeFlip
        expr: vector(time() % 6) < 3
"""


@pytest.fixture
def flipping_prometheus(tmp_path: Path) -> Iterator[str]:
    """A Prometheus whose one alert fires for 3 s out of every 6."""
    port = free_port()
    (tmp_path / "rules.yml").write_text(FLIP)
    config = tmp_path / "prometheus.yml"
    config.write_text(f'global: {{evaluation_interval: 1s}}\nrule_files: ["{tmp_path / "rules.yml"}"]\n')
    args = [
        require_program("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with service_process(args, tmp_path / "prometheus.log", f"http://127.0.0.1:{port}/-/ready", "Prometheus"):
        yield f"http://127.0.0.1:{port}"


KEYS = {"reader": "cmk_reader_key_0123456789", "nobody": "cmk_nobody_key_0123456789"}


def conf(url: str) -> dict[str, object]:
    return {
        "monitoring": {"endpoints": {"flip": {"url": url, "retries": 1}}, "alerts_watch_s": 0.5},
        "policy": {"roles": {"nobody": ["scan:run"]}},
        "auth": {
            "api_keys": [
                {"id": "reader", "sha256": hash_api_key(KEYS["reader"]), "role": "viewer"},
                {"id": "nobody", "sha256": hash_api_key(KEYS["nobody"]), "role": "nobody"},
            ]
        },
    }


async def test_a_listening_client_is_told_when_the_alerts_change(
    flipping_prometheus: str, tmp_path: Path
) -> None:
    connector = Connector("http", tmp_path)
    async with (
        connector.serve("monitoring", conf(flipping_prometheus)) as served,
        connector.client(served, "monitoring", token=KEYS["reader"]) as client,
    ):
        assert client.protocol_version == "2026-07-28"
        states = []
        with anyio.fail_after(30):
            async with client.listen(resource_subscriptions=["alerts://flip"]) as subscription:
                async for event in subscription:
                    assert event == ResourceUpdated(uri="alerts://flip")
                    read = await client.read_resource("alerts://flip")  # refetch, as a host does
                    states.append(getattr(read.contents[0], "text", ""))
                    if len(states) == 2:
                        break
        assert "CodeFlip" in "".join(states) and len(set(states)) == 2  # on, then off (or the reverse)


async def test_a_listen_stream_is_guarded_like_a_read(flipping_prometheus: str, tmp_path: Path) -> None:
    connector = Connector("http", tmp_path)
    async with (
        connector.serve("monitoring", conf(flipping_prometheus)) as served,
        connector.client(served, "monitoring", token=KEYS["reader"]) as reader,
        connector.client(served, "monitoring", token=KEYS["nobody"]) as nobody,
    ):
        with pytest.raises(MCPError, match="monitoring:read"):
            async with nobody.listen(resource_subscriptions=["alerts://flip"]):
                pass
        for uri in ("scan://abc/sarif", "alerts://flip/../../etc", "file:///etc/passwd"):
            with pytest.raises(MCPError):
                async with reader.listen(resource_subscriptions=[uri]):
                    pass
        async with reader.listen(tools_list_changed=True) as plain:  # list changes only: not guarded
            assert plain.honored.tools_list_changed


async def test_a_2025_client_reads_instead(flipping_prometheus: str, tmp_path: Path) -> None:
    connector = Connector("memory", tmp_path)
    async with (
        connector.serve("monitoring", conf(flipping_prometheus)) as served,
        Client(served.server, mode="legacy") as client,  # type: ignore[arg-type]
    ):
        with pytest.raises(ListenNotSupportedError):
            async with client.listen(resource_subscriptions=["alerts://flip"]):
                pass
        assert (await client.read_resource("alerts://flip")).contents
