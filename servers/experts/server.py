"""The experts MCP server: wiring only. The logic is in circle_ops, vote_ops and review_ops."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

import httpx
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from servers.experts.circle_ops import AskRequest, Circle
from servers.experts.expert_surfaces import expert_surfaces
from servers.experts.models import CircleReport, ExpertRoster, VoteResult
from servers.experts.prompts import Stance
from servers.experts.review_ops import ReviewRequest, review
from servers.experts.roster import Roster
from servers.experts.settings import ExpertsSettings, ProviderSettings
from servers.experts.thread_store_redis import thread_store
from servers.experts.tool_args import (
    Background,
    BudgetUsd,
    Chairman,
    ExpertNames,
    Files,
    Judge,
    MinAgreement,
    Question,
    Synthesize,
    ThreadId,
    TimeoutS,
)
from servers.experts.vote_ops import VoteRequest, vote
from shared.calls import current_identity
from shared.errors import ToolFailure
from shared.identity import Identity
from shared.paging import Cursor, page
from shared.ratelimit import OutboundLimiter
from shared.runtime import Runtime
from shared.settings import SuiteConfig
from shared.toolkit import ServerKit

INSTRUCTIONS = """Ask a circle of LLM experts (different providers and models) the same question in
parallel and get back a measured consensus: the consensus answer, how much the experts agree
(agreement 0..1, entropy), the groups they fall into and how far to trust them, the points they
share, who dissents, and what each call cost. Use experts_ask for open questions (judge=true for a
conclusion-level agreement measure; min_agreement for cheapest-first escalation; synthesize=true for
a chairman's final answer that keeps the dissent; thread_id to continue a conversation; files to
attach code or images), experts_vote to choose between options, experts_review to have code or a
plan reviewed, experts_list to see who is in the circle."""


def caller_of(identity: Identity) -> str:
    """Whose conversations these are: the authentication method and the subject together."""
    return f"{identity.method}:{identity.subject}"


def build_server(
    config: SuiteConfig,
    *,
    runtime: Runtime | None = None,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> MCPServer[Any]:
    """The experts server.

    Args:
        config: the suite configuration; the `[experts]` section configures providers and experts.
        runtime: shared by every server of one process.
        environ: where `api_key_env` keys are looked up (default: this process's environment).
        transport: an httpx transport for every provider client (tests only).
    """
    settings = config.section("experts", ExpertsSettings)

    def limiter_for(provider: ProviderSettings) -> OutboundLimiter:
        return OutboundLimiter(provider.requests_per_second, provider.burst)

    threads = thread_store(config, settings)
    roster = Roster(
        settings,
        environ=os.environ if environ is None else environ,
        limiter_factory=limiter_for,
        transport=transport,
        on_close=threads.aclose,
    )

    def lifespan(_server: MCPServer[Any]) -> AbstractAsyncContextManager[None]:
        return roster.session()

    kit = ServerKit("experts", config, runtime, instructions=INSTRUCTIONS, lifespan=lifespan)
    circle = Circle(
        roster, max_output_chars=kit.budget.max_chars, threads=threads, check_path=kit.policy.check_scan_path
    )
    circle_tools = kit.toolset(permission="experts:ask", open_world=True)
    expert_surfaces(kit, roster)

    def progress_of(ctx: Context) -> Any:
        async def report(done: int, total: int, message: str) -> None:
            await ctx.report_progress(done, total, message)

        return report

    @circle_tools.tool("experts_ask", "Ask the circle of experts", idempotent=False)
    async def experts_ask(
        question: Question,
        ctx: Context,
        experts: ExpertNames = None,
        context: Background = None,
        budget_usd: BudgetUsd = None,
        timeout_s: TimeoutS = None,
        min_agreement: MinAgreement = None,
        judge: Judge = False,
        synthesize: Synthesize = None,
        chairman: Chairman = None,
        thread_id: ThreadId = None,
        files: Files = None,
    ) -> CircleReport:
        """Ask several LLM experts the same question in parallel and return the measured consensus:
        the consensus answer and verdict, agreement and entropy, clusters and how far to trust them,
        key points, dissent, and per expert its status, latency, tokens, cost and answer; optionally a
        chairman's synthesis and a thread_id to continue. Progress is reported as each expert answers."""
        request = AskRequest(
            question=question,
            experts=experts,
            context=context,
            budget_usd=budget_usd,
            timeout_s=timeout_s,
            min_agreement=min_agreement,
            judge=judge,
            synthesize=synthesize,
            chairman=chairman,
            thread_id=thread_id,
            files=files,
            caller=caller_of(current_identity()),
        )
        return await circle.ask(request, progress_of(ctx))

    @circle_tools.tool("experts_vote", "Experts vote on options", idempotent=False)
    async def experts_vote(
        question: Annotated[str, Field(description="What to decide.", min_length=1)],
        options: Annotated[
            list[str], Field(description="The options (2 to 20, distinct).", min_length=2, max_length=20)
        ],
        ctx: Context,
        experts: ExpertNames = None,
        budget_usd: BudgetUsd = None,
        timeout_s: TimeoutS = None,
    ) -> VoteResult:
        """Have every expert pick exactly one option; returns the tallies, the winner, the margin and
        Fleiss' kappa (chance-corrected agreement)."""
        request = VoteRequest(
            question=question, options=options, experts=experts, budget_usd=budget_usd, timeout_s=timeout_s
        )
        return await vote(circle, request, progress_of(ctx))

    @circle_tools.tool("experts_review", "Experts review code or a plan", idempotent=False)
    async def experts_review(
        content: Annotated[str, Field(description="The code, diff or plan to review.", min_length=1)],
        ctx: Context,
        focus: Annotated[str | None, Field(description="What to concentrate on, e.g. 'security'.")] = None,
        experts: ExpertNames = None,
        stances: Annotated[
            list[Stance] | None,
            Field(
                description="Stances assigned to the experts in order, cycled (e.g. ['for', 'against', "
                "'neutral']) so both sides are argued; omit for plain reviews.",
                max_length=32,
            ),
        ] = None,
        peer_ranking: Annotated[
            bool,
            Field(
                description="Add a round where experts rank each other's anonymised reviews; the ranks "
                "weight the consensus."
            ),
        ] = False,
        budget_usd: BudgetUsd = None,
        timeout_s: TimeoutS = None,
    ) -> CircleReport:
        """Have the experts review content; returns their consensus verdict (approve / approve with
        changes / reject), shared points, dissent and each review."""
        request = ReviewRequest(
            content=content,
            focus=focus,
            experts=experts,
            stances=stances,
            peer_ranking=peer_ranking,
            budget_usd=budget_usd,
            timeout_s=timeout_s,
        )
        return await review(circle, request, progress_of(ctx))

    @circle_tools.tool("experts_list", "List the experts", open_world=False)
    async def experts_list(cursor: Cursor = None) -> ExpertRoster:
        """The configured experts with provider, model, prices and timeout, and each provider's health
        (circuit breaker, calls, failures, last error). API keys are never shown. When nothing is
        configured, says exactly what to configure (and uses a local OpenAI-compatible server if one
        answers)."""
        with contextlib.suppress(ToolFailure):  # the roster's notes say what to configure
            await roster.ensure_experts()
        roster_now = roster.describe()
        cut = page(roster_now.experts)
        roster_now.experts = cut.items
        roster_now.total_experts = cut.total or 0
        roster_now.next_cursor = cut.next_cursor
        if cut.note:
            roster_now.notes.append(cut.note)
        return roster_now

    return kit.server
