"""`code-mcp`: argument parsing, tools, call, audit verify, config check (in process, real client)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
import tomli_w

from servers.cli import CliError, available_servers, main, parse_assignments, resolve

DEMO = "tests.support.demo_server:build_server"


def write(path: Path, data: dict[str, object]) -> Path:
    path.write_text(tomli_w.dumps(data))
    return path


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (["text=hi"], {"text": "hi"}),
        (["n=3", "f=1.5", "b=true", "z=null"], {"n": 3, "f": 1.5, "b": True, "z": None}),
        (['obj={"a": [1]}', "list=[1,2]"], {"obj": {"a": [1]}, "list": [1, 2]}),
        (["eq=a=b", "empty="], {"eq": "a=b", "empty": ""}),
        (['quoted="5"'], {"quoted": "5"}),
    ],
)
def test_key_value_arguments_are_json_when_they_parse(pairs: list[str], expected: dict[str, object]) -> None:
    assert parse_assignments(pairs) == expected


@pytest.mark.parametrize("pair", ["novalue", "=x"])
def test_malformed_arguments_are_refused(pair: str) -> None:
    with pytest.raises(CliError, match="key=value"):
        parse_assignments([pair])


def test_unknown_servers_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CliError, match="unknown server"):
        resolve("nope")
    with pytest.raises(CliError, match="cannot load"):
        resolve("tests.support.no_such_module:build_server")
    assert main(["tools", "nope"]) == 2
    assert "unknown server 'nope'" in capsys.readouterr().err


def test_available_servers_are_the_installed_registry_entries() -> None:
    assert set(available_servers()) <= {"deployment", "experts", "security-scan", "monitoring"}


def test_tools_lists_annotations_and_schemas(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", {"policy": {"tiers": {"demo": "write"}}})
    assert main(["tools", DEMO, "--config", str(config)]) == 0
    tools = {tool["name"]: tool for tool in json.loads(capsys.readouterr().out)}
    assert tools["demo_write"]["annotations"]["destructiveHint"] is True
    assert tools["demo_echo"]["inputSchema"]["properties"]["text"]["description"] == "Text to send back."
    assert "outputSchema" in tools["demo_echo"]
    assert "demo_admin" not in tools


def test_call_prints_structured_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", DEMO, "demo_echo", "text=hello"]) == 0
    assert json.loads(capsys.readouterr().out) == {"text": "hello", "length": 5}


def test_call_tool_error_exits_1_with_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["call", DEMO, "demo_fail", "reason=because"]) == 1
    assert "failing because because" in capsys.readouterr().err


def test_bad_config_exits_2_naming_the_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", {"limits": {"identity": {"rate": -1, "burst": 1}}})
    assert main(["call", DEMO, "demo_echo", "text=x", "--config", str(config)]) == 2
    assert "limits.identity.rate" in capsys.readouterr().err
    assert main(["config", "check", str(config)]) == 2


def test_config_check_accepts_a_valid_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", {"role": "operator", "output": {"max_items": 10}})
    assert main(["config", "check", str(config)]) == 0
    assert capsys.readouterr().out.startswith("ok:")


def _audit(tmp_path: Path, calls: int) -> Path:
    log = tmp_path / "audit.jsonl"
    config = write(tmp_path / "audit.toml", {"audit": {"path": str(log), "fsync": False}})
    for i in range(calls):
        assert main(["call", DEMO, "demo_echo", f"text=call {i}", "--config", str(config)]) == 0
    return log


def test_audit_verify_accepts_an_intact_chain(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    log = _audit(tmp_path, 3)
    capsys.readouterr()
    assert main(["audit", "verify", str(log)]) == 0
    assert "3 lines" in capsys.readouterr().out


@pytest.mark.parametrize(("tamper", "bad_line"), [("edit", 2), ("insert", 3), ("delete", 2)])
def test_audit_verify_names_the_first_bad_line(
    tamper: str, bad_line: int, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    log = _audit(tmp_path, 4)
    lines = log.read_text().splitlines(keepends=True)
    if tamper == "edit":
        lines[1] = lines[1].replace('"outcome":"ok"', '"outcome":"tool_error"')
    elif tamper == "insert":
        lines.insert(2, lines[1])
    else:
        del lines[1]
    log.write_text("".join(lines))
    capsys.readouterr()
    assert main(["audit", "verify", str(log)]) == 1
    assert f": line {bad_line}:" in capsys.readouterr().err


def test_audit_verify_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["audit", "verify", str(tmp_path / "none.jsonl")]) == 2


def test_suite_refuses_stdio(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "suite", "--transport", "stdio"]) == 2
    assert "HTTP" in capsys.readouterr().err


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Capture what `serve` would run instead of blocking on a server."""
    from shared import runner

    seen: dict[str, object] = {}
    monkeypatch.setattr(
        runner, "run_http", lambda app, runtime, **kw: seen.update(app=app, runtime=runtime, **kw)
    )
    monkeypatch.setattr(
        runner, "run_stdio", lambda server, runtime: seen.update(server=server, runtime=runtime)
    )
    return seen


def test_serve_stdio_runs_the_named_server(served: dict[str, object]) -> None:
    assert main(["serve", DEMO]) == 0
    assert getattr(served["server"], "name", None) == "demo"


def test_serve_http_on_loopback_without_auth_makes_a_key_for_the_run(
    served: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", DEMO, "--transport", "http", "--port", "8123"]) == 0
    err = capsys.readouterr().err
    snippet, _ = json.JSONDecoder().raw_decode(err[err.index("{") :])
    entry = snippet["mcpServers"]["code-demo"]
    assert entry["url"] == "http://127.0.0.1:8123/mcp"
    key = entry["headers"]["Authorization"].removeprefix("Bearer ")
    assert served["port"] == 8123
    runtime: Any = served["runtime"]
    token = anyio.run(runtime.verifier.verify_token, key)
    assert token is not None and token.subject == "this-run"  # the printed key is the one admitted


def test_serve_sse_with_loopback_allowed_needs_no_key(
    served: dict[str, object], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = write(tmp_path / "c.toml", {"auth": {"allow_unauthenticated_loopback": True}})
    assert main(["serve", DEMO, "--transport", "sse", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "/sse" in err
    assert "Authorization" not in err


def test_serve_on_a_public_host_without_auth_is_refused(
    served: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", DEMO, "--transport", "http", "--host", "0.0.0.0"]) == 2
    assert "without authentication" in capsys.readouterr().err
    assert "app" not in served


def test_serve_suite_mounts_every_installed_server(served: dict[str, object]) -> None:
    assert available_servers(), "every suite server should be importable"
    assert main(["serve", "suite"]) == 0
    assert served["host"] == "127.0.0.1"


def test_serve_root_opens_the_folder_to_the_scanners(served: dict[str, object], tmp_path: Path) -> None:
    inside = tmp_path / "project"
    inside.mkdir()
    config = write(tmp_path / "c.toml", {"policy": {"scan_roots": [str(tmp_path)]}})
    argv = ["serve", DEMO, "--config", str(config), "--root", str(inside), "--root", str(tmp_path)]
    assert main(argv) == 0
    runtime = served["runtime"]
    roots = runtime.config.policy.scan_roots  # type: ignore[attr-defined]
    assert roots == [tmp_path.resolve(), inside.resolve()]  # the file's first, each folder once


@pytest.mark.parametrize("root", ["${workspaceFolder}", "missing-folder"])
def test_serve_root_that_is_no_folder_is_refused_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, root: str
) -> None:
    assert main(["serve", DEMO, "--root", str(tmp_path / root) if "$" not in root else root]) == 2
    err = capsys.readouterr().err
    assert "--root" in err
    assert ("unexpanded" in err) if "$" in root else ("not an existing folder" in err)
