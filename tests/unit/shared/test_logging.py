"""Logs are JSON lines on stderr (never stdout), carry the request id, and never carry secrets."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest
import structlog

from shared.logging import configure_logging, current_request_id, get_logger, new_request_id, request_context


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Logging configured into a buffer; the previous global setup is restored afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    yield out
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_are_json_with_level_logger_and_time(stream: io.StringIO) -> None:
    get_logger("code.test").info("started", server="deployment")
    (record,) = records(stream)
    assert record["event"] == "started"
    assert record["server"] == "deployment"
    assert record["level"] == "info"
    assert record["logger"] == "code.test"
    assert str(record["timestamp"]).endswith("Z")


def test_the_level_filters(stream: io.StringIO) -> None:
    log = get_logger("x")
    log.debug("hidden")
    logging.getLogger("lib").debug("hidden too")
    log.warning("shown")
    assert [r["event"] for r in records(stream)] == ["shown"]


def test_request_ids_follow_the_context(stream: io.StringIO) -> None:
    log = get_logger("x")
    assert current_request_id() is None
    with request_context(tool="prom_query") as rid:
        assert current_request_id() == rid
        log.info("inside")
        with request_context("fixed-id"):
            log.info("nested")
        log.info("back")
    log.info("outside")
    inside, nested, back, outside = records(stream)
    assert inside["request_id"] == rid and inside["tool"] == "prom_query"
    assert nested["request_id"] == "fixed-id"
    assert back["request_id"] == rid
    assert "request_id" not in outside
    assert len(new_request_id()) == 32 and new_request_id() != new_request_id()


@pytest.mark.anyio
async def test_concurrent_requests_keep_their_own_ids(stream: io.StringIO) -> None:
    log = get_logger("x")

    async def handle(name: str) -> None:
        with request_context(request_id=name):
            await anyio.lowlevel.checkpoint()
            log.info("handled", who=name)

    async with anyio.create_task_group() as tg:
        for name in ("a", "b", "c"):
            tg.start_soon(handle, name)
    assert all(r["request_id"] == r["who"] for r in records(stream))


def test_secrets_are_redacted_everywhere(stream: io.StringIO) -> None:
    log = get_logger("x")
    log.info(
        "call with password=hunter2",
        api_key="sk-" + "a" * 30,
        headers={"Authorization": "Bearer abcdefghijkl"},
    )
    logging.getLogger("mcp.server").warning("token=abcdef123456 from the SDK")
    try:
        raise RuntimeError("failed with ghp_" + "B" * 36)
    except RuntimeError:
        log.exception("boom")
    text = stream.getvalue()
    for secret in ("hunter2", "sk-aaaa", "abcdefghijkl", "abcdef123456", "ghp_BBBB"):
        assert secret not in text
    warning = records(stream)[1]
    assert warning["logger"] == "mcp.server" and warning["level"] == "warning"
    assert "RuntimeError" in str(records(stream)[2]["exception"])


def test_unknown_levels_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("LOUD")


def test_nothing_reaches_stdout_in_a_real_process() -> None:
    code = (
        "import logging\n"
        "from shared.logging import configure_logging, get_logger\n"
        "logging.basicConfig(stream=__import__('sys').stdout)\n"  # a library's handler on stdout
        "logging.getLogger('chatty').addHandler(logging.StreamHandler(__import__('sys').stdout))\n"
        "configure_logging('DEBUG')\n"
        "configure_logging(10)\n"  # idempotent: no duplicate handlers
        "get_logger('a').info('one')\n"
        "logging.getLogger('b').warning('two')\n"
        "logging.getLogger('chatty').info('three')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == ""
    events = [json.loads(line)["event"] for line in done.stderr.splitlines()]
    assert events == ["one", "two", "three"]


def test_console_handlers_are_replaced_so_stdout_stays_clean(stream: io.StringIO) -> None:
    root = logging.getLogger()
    on_stdout = logging.StreamHandler(sys.stdout)
    chatty = logging.getLogger("code.test.chatty")
    chatty_stdout = logging.StreamHandler(sys.stdout)
    chatty.addHandler(chatty_stdout)
    root.addHandler(on_stdout)
    configure_logging("INFO", stream=stream)
    assert on_stdout not in root.handlers
    assert chatty_stdout not in chatty.handlers
    assert [h.get_name() for h in root.handlers].count("code-mcp") == 1
