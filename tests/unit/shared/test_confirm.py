"""The confirmation step every write tool of the kit has: asked through the official SDK client's
elicitation handler in both protocol eras (2025: `elicitation/create` mid-call; 2026-07-28:
`InputRequiredResult` rounds), refused without the capability, and not bypassed by a forged or
replayed `requestState`."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import ElicitRequestParams, ElicitResult, InputRequiredResult, TextContent
from pydantic import BaseModel

from shared.calls import CallRecord
from shared.confirm import Change, mode_for
from shared.errors import UpstreamUnavailable
from shared.policy_settings import ConfirmSettings
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.toolkit import ServerKit

pytestmark = pytest.mark.anyio
Era = Literal["legacy", "auto"]  # the client's connect mode: 2025-era handshake, or 2026-07-28
ERAS: tuple[Era, ...] = ("legacy", "auto")


class Done(BaseModel):
    changed: str


class Recorder(Runtime):
    def __init__(self, config: SuiteConfig) -> None:
        super().__init__(config)
        self.records: list[CallRecord] = []

    def record(self, call: CallRecord) -> None:
        super().record(call)
        self.records.append(call)


def build(confirm: dict[str, Any]) -> tuple[Any, Recorder, list[str]]:
    """A write-tier kit with three writes; `ran` lists the bodies that ran."""
    runtime = Recorder(SuiteConfig(role="operator", policy={"tiers": {"unit": "write"}, "confirm": confirm}))
    kit = ServerKit("unit", runtime.config, runtime, instructions="unit tests")
    writes = kit.toolset(permission="deployment:write", open_world=False)
    ran: list[str] = []

    def scale_preview(name: str, replicas: int, namespace: str) -> Change:
        return Change(f"scale {name} to {replicas}", namespace=namespace, destructive=replicas == 0)

    @writes.tool("scale", "Scale", preview=scale_preview)
    def scale(name: str, replicas: int, namespace: str = "default") -> Done:
        """Scale something."""
        ran.append(f"scale {name} {replicas}")
        return Done(changed=name)

    @writes.tool("create", "Create a thing", destructive=False)
    async def create(name: str, token: str = "") -> Done:
        """Create something."""
        ran.append(f"create {name}")
        return Done(changed=name)

    def broken_preview(name: str) -> Change:
        raise UpstreamUnavailable("the plan store is unreachable; retry shortly")

    @writes.tool("guarded", "Guarded", preview=broken_preview)
    async def guarded(name: str) -> Done:
        """A write whose preview fails."""
        ran.append(f"guarded {name}")
        return Done(changed=name)

    return kit.server, runtime, ran


Action = Literal["accept", "decline", "cancel"]


def answering(action: Action, confirm: bool = True, seen: list[str] | None = None) -> Any:
    """The person, as the client's elicitation handler: answers `action`, noting each question."""

    async def callback(context: Any, params: ElicitRequestParams) -> ElicitResult:
        if seen is not None:
            seen.append(params.message)
        content = {"confirm": confirm} if action == "accept" else None
        return ElicitResult(action=action, content=content)

    return callback


def text(result: Any) -> str:
    return " ".join(b.text for b in result.content if isinstance(b, TextContent))


def test_the_strictest_named_mode_wins_and_the_default_fills_in() -> None:
    settings = ConfirmSettings(
        default="destructive",
        tools={"k8s_*": "never", "k8s_delete": "always"},
        namespaces={"prod-*": "always"},
    )
    assert mode_for(settings, "docker_remove", None) == "destructive"
    assert mode_for(settings, "k8s_scale", "default") == "never"
    assert mode_for(settings, "k8s_scale", "prod-eu") == "always"
    assert mode_for(settings, "k8s_delete", "default") == "always"


@pytest.mark.parametrize("era", ERAS)
async def test_never_runs_without_asking(era: Era) -> None:
    server, _, ran = build({"default": "never"})
    seen: list[str] = []
    async with Client(server, mode=era, elicitation_callback=answering("accept", seen=seen)) as client:
        result = await client.call_tool("scale", {"name": "web", "replicas": 0})
    assert not result.is_error and ran == ["scale web 0"] and seen == []


@pytest.mark.parametrize("era", ERAS)
async def test_an_accepted_question_runs_the_change_and_names_it_to_the_person(era: Era) -> None:
    server, runtime, ran = build({"default": "always"})
    seen: list[str] = []
    async with Client(server, mode=era, elicitation_callback=answering("accept", seen=seen)) as client:
        result = await client.call_tool("create", {"name": "db", "token": "ghp_" + "a1B2" * 9})
    assert not result.is_error, text(result)
    assert ran == ["create db"]
    assert len(seen) == 1 and "unit: create, asked by" in seen[0] and '"name": "db"' in seen[0]
    assert "a1B2a1B2" not in seen[0]  # the question is redacted like every result
    assert [(r.outcome, r.detail) for r in runtime.records][-1] == ("ok", "confirmed by the person")


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("action", "confirm", "outcome"),
    [("decline", True, "declined"), ("cancel", True, "cancelled"), ("accept", False, "declined")],
)
async def test_anything_but_an_explicit_yes_changes_nothing_and_is_audited(
    era: Era, action: Action, confirm: bool, outcome: str
) -> None:
    server, runtime, ran = build({"default": "always"})
    async with Client(server, mode=era, elicitation_callback=answering(action, confirm)) as client:
        result = await client.call_tool("scale", {"name": "web", "replicas": 3})
    assert result.is_error and "nothing was changed" in text(result)
    assert result.structured_content is not None and result.structured_content["error"] == outcome
    assert ran == []
    assert runtime.records[-1].outcome == outcome


@pytest.mark.parametrize("era", ERAS)
async def test_destructive_asks_only_for_what_the_preview_calls_destructive(era: Era) -> None:
    server, _, ran = build({"default": "destructive"})
    seen: list[str] = []
    async with Client(server, mode=era, elicitation_callback=answering("decline", seen=seen)) as client:
        up = await client.call_tool("scale", {"name": "web", "replicas": 3})
        down = await client.call_tool("scale", {"name": "web", "replicas": 0, "namespace": "shop"})
        made = await client.call_tool("create", {"name": "x"})
    assert not up.is_error and not made.is_error and down.is_error
    assert ran == ["scale web 3", "create x"]
    assert len(seen) == 1 and "scale web to 0" in seen[0] and "namespace shop" in seen[0]


@pytest.mark.parametrize("era", ERAS)
async def test_a_client_that_cannot_be_asked_is_refused_with_what_to_configure(era: Era) -> None:
    server, runtime, ran = build({"default": "never", "namespaces": {"prod": "always"}})
    async with Client(server, mode=era) as client:  # no elicitation handler: no capability
        refused = await client.call_tool("scale", {"name": "web", "replicas": 2, "namespace": "prod"})
        allowed = await client.call_tool("scale", {"name": "web", "replicas": 2})
    assert refused.is_error and not allowed.is_error
    message = text(refused)
    assert "does not offer form elicitation" in message and "[policy.confirm]" in message
    assert refused.structured_content is not None
    assert refused.structured_content["error"] == "permission_denied"
    assert ran == ["scale web 2"]
    assert [r.outcome for r in runtime.records] == ["denied", "ok"]


@pytest.mark.parametrize("era", ERAS)
async def test_a_preview_that_fails_blocks_the_change(era: Era) -> None:
    server, runtime, ran = build({"default": "never"})
    async with Client(server, mode=era, elicitation_callback=answering("accept")) as client:
        result = await client.call_tool("guarded", {"name": "x"})
    assert result.is_error and "plan store is unreachable" in text(result) and ran == []
    assert runtime.records[-1].outcome == "tool_error"


async def _first_round(client: Client, arguments: dict[str, Any]) -> InputRequiredResult:
    first = await client.session.call_tool("scale", arguments, allow_input_required=True)
    assert isinstance(first, InputRequiredResult) and first.request_state and first.input_requests
    return first


def _accept(first: InputRequiredResult) -> dict[str, Any]:
    yes = ElicitResult(action="accept", content={"confirm": True})
    return dict.fromkeys(first.input_requests or {}, yes)


async def test_a_forged_or_replayed_request_state_never_runs_the_change() -> None:
    server, runtime, ran = build({"default": "always"})
    async with Client(server, mode="auto", elicitation_callback=answering("accept")) as client:
        assert client.protocol_version == "2026-07-28"
        args = {"name": "web", "replicas": 1, "namespace": "default"}
        first = await _first_round(client, args)
        state = first.request_state or ""
        forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
        with pytest.raises(MCPError):
            await client.session.call_tool(
                "scale", args, input_responses=_accept(first), request_state=forged, allow_input_required=True
            )
        # The sealed state of one change does not carry an answer over to another.
        other = {"name": "web", "replicas": 0, "namespace": "default"}
        with pytest.raises(MCPError):
            await client.session.call_tool(
                "scale", other, input_responses=_accept(first), request_state=state, allow_input_required=True
            )
        assert ran == []
        # The genuine round trip runs it, once.
        done = await client.session.call_tool(
            "scale", args, input_responses=_accept(first), request_state=state, allow_input_required=True
        )
        assert not isinstance(done, InputRequiredResult) and not done.is_error
    assert ran == ["scale web 1"]
    assert runtime.records[0].outcome == "input_required"


async def test_an_answer_without_state_is_asked_again_not_taken() -> None:
    server, _, ran = build({"default": "always"})
    async with Client(server, mode="auto", elicitation_callback=answering("accept")) as client:
        args = {"name": "web", "replicas": 1, "namespace": "default"}
        first = await _first_round(client, args)
        again = await client.session.call_tool(
            "scale", args, input_responses=_accept(first), allow_input_required=True
        )
    assert isinstance(again, InputRequiredResult) and ran == []
