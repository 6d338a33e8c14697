"""Inputs and outputs of the experts tools. Descriptions are written for the model that reads them."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class ExpertStatus(StrEnum):
    OK = "ok"
    TIMEOUT = "timeout"
    ERROR = "error"
    SKIPPED_BUDGET = "skipped_budget"
    NOT_ASKED = "not_asked"


class ExpertAnswer(BaseModel):
    """One expert's part in a circle."""

    expert: str = Field(description="the expert's configured name")
    provider: str = Field(description="the provider it runs on")
    model: str = Field(description="the model asked")
    status: ExpertStatus = Field(
        description="ok; timeout; error; skipped_budget (the budget could not cover this call); "
        "not_asked (escalation stopped before this expert)"
    )
    latency_ms: float | None = Field(default=None, description="wall time of the call, retries included")
    input_tokens: int = Field(default=0, description="input tokens the provider reported")
    output_tokens: int = Field(default=0, description="output tokens the provider reported")
    cost_usd: float = Field(default=0.0, description="reported tokens x the configured price")
    answer: str | None = Field(default=None, description="the answer text (clipped)")
    verdict: str | None = Field(default=None, description="the expert's one-line conclusion")
    confidence: float | None = Field(default=None, description="the expert's stated confidence, 0..1")
    parse_format: str | None = Field(
        default=None,
        description="how the verdict was read: json, line (VERDICT: …), follow_up (asked for in a short "
        "second call because the answer stated none) or fallback (last sentence: shown, not trusted)",
    )
    stance: str | None = Field(
        default=None, description="for / against / neutral, when stances were assigned"
    )
    agreement: float | None = Field(
        default=None, description="mean similarity of this answer to the other answers, 0..1"
    )
    cluster: int | None = Field(default=None, description="index into `clusters` of the group it belongs to")
    error: str | None = Field(default=None, description="why the call failed, when it did")


class ClusterSummary(BaseModel):
    """A group of experts that reached the same conclusion."""

    members: list[str] = Field(description="expert names in the group")
    representative: str = Field(description="the member whose answer best represents the group")
    share: float = Field(description="weighted share of the answers in this group, 0..1")


class ClaimSummary(BaseModel):
    """A sentence-level claim and who made it."""

    text: str
    supporters: list[str] = Field(description="expert names making this claim")


class JudgeMatrix(BaseModel):
    """The judge round: row i says which other answers expert i judged to share its conclusion."""

    experts: list[str] = Field(description="row/column order")
    matrix: list[list[float]] = Field(description="symmetrised agreement, 1 = same conclusion, 0 = different")
    judges_failed: list[str] = Field(
        default_factory=list, description="experts whose judgement was unreadable"
    )


class Escalation(BaseModel):
    """Escalation mode: cheapest experts first, more only while agreement is too low."""

    min_agreement: float
    asked: int = Field(description="experts asked")
    available: int = Field(description="experts that could have been asked")
    stopped_early: bool = Field(description="True when min_agreement was reached before asking everyone")
    note: str


class PeerRank(BaseModel):
    """The anonymised peer-ranking round of a review."""

    expert: str
    mean_score: float = Field(description="0 = ranked last by every peer, 1 = ranked first by every peer")
    rankers: int = Field(description="peers whose ranking included this review")
    weight: float = Field(description="weight this review got in the consensus")


class Grouping(BaseModel):
    """How far the clusters can be trusted: what they were built from, and how well that signal
    recovered the true conclusion groups of labelled answers (a calibration, not this call's agreement)."""

    basis: str = Field(
        description="judges (judge round), verdicts (stated or asked-for one-line verdicts), embeddings, "
        "wording (answer text alone), or none"
    )
    confidence: float | None = Field(
        description="expected agreement of these clusters with the true conclusion groups: the mean "
        "adjusted Rand index this basis scored on labelled answer groups (the worse of two sets); "
        "None when it was not measured"
    )
    level: str = Field(description="high (>= 0.7), medium (>= 0.4), low, or unknown")
    placed: int = Field(
        description="answers whose conclusion was placed in the question's frame (its options, or yes/no)"
    )
    note: str


class AttachmentInfo(BaseModel):
    """A file attached to the question."""

    path: str = Field(description="the path as resolved inside the allowed folders")
    kind: str = Field(description="text (inlined in the prompt) or image (sent as an image block)")
    media_type: str
    bytes: int
    redactions: int = Field(description="secrets replaced by [REDACTED] before anything was sent")


class DissentNote(BaseModel):
    """A dissenting conclusion or claim passed to the chairman, and whether its synthesis kept it."""

    kind: str = Field(description="minority (a smaller group's conclusion) or claim (one expert's only)")
    experts: list[str] = Field(description="who holds it")
    labels: list[str] = Field(description="how the chairman saw them (anonymised: Expert A, B, ...)")
    text: str = Field(description="the dissenting verdict or claim")
    in_synthesis: bool = Field(description="whether the chairman's text cites it; listed here either way")


class Synthesis(BaseModel):
    """The chairman's final answer, written from the anonymised answers and the measured consensus.
    It is an opinion: the measured numbers are the report's own fields, not this text."""

    chairman: str = Field(description="the expert who wrote it")
    provider: str
    model: str
    status: ExpertStatus
    text: str | None = Field(description="the synthesis, with each 'Expert X' followed by the expert's name")
    dissent: list[DissentNote] = Field(
        description="every dissent the chairman was given, attributed; in_synthesis says if the text kept it"
    )
    latency_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = Field(default=0.0, description="counted in the report's total_cost_usd and the budget")
    error: str | None = None


class CircleReport(BaseModel):
    """The measured consensus of a circle of experts."""

    question: str = Field(description="the question as asked (clipped)")
    consensus_answer: str | None = Field(description="the representative answer of the largest group")
    consensus_verdict: str | None = Field(description="that answer's one-line verdict")
    consensus_expert: str | None = Field(description="who wrote it")
    agreement: float = Field(description="weighted share of the largest group, 0..1 (1 = unanimous)")
    entropy: float = Field(description="semantic entropy over groups (natural log); 0 when all agree")
    signal: str = Field(
        description="what the grouping was based on: agreement (judge round), verdicts, embeddings or text"
    )
    grouping: Grouping | None = Field(default=None, description="how far the clusters can be trusted")
    clusters: list[ClusterSummary]
    key_points: list[ClaimSummary] = Field(description="claims at least half of the answers share")
    dissent: list[ClaimSummary] = Field(description="claims only one expert made")
    experts: list[ExpertAnswer]
    answered: int = Field(description="experts that answered")
    total_cost_usd: float
    budget_usd: float
    judge: JudgeMatrix | None = Field(default=None, description="the judge round, when it ran")
    escalation: Escalation | None = None
    peer_ranking: list[PeerRank] | None = Field(default=None, description="review only: the peer ranking")
    synthesis: Synthesis | None = Field(
        default=None, description="synthesize=true: the chairman's answer, separate from the measured numbers"
    )
    thread_id: str | None = Field(
        default=None, description="pass as thread_id to continue this conversation (yours only; it expires)"
    )
    round: int | None = Field(default=None, description="this question's round in the thread (1 = first)")
    attachments: list[AttachmentInfo] = Field(default_factory=list, description="the files attached")
    notes: list[str] = Field(default_factory=list, description="what to know about this result")


class OptionTally(BaseModel):
    option: str
    votes: int
    voters: list[str]


class VoteResult(BaseModel):
    """A categorical vote of the circle."""

    question: str
    winner: str | None = Field(description="the option with the most votes; None on a tie or no votes")
    margin: float = Field(description="(top votes - runner-up votes) / valid votes, 0..1")
    kappa: float | None = Field(
        description="Fleiss' kappa of the votes: 1 = unanimous, <= 0 = no better than chance; "
        "None with fewer than two valid votes"
    )
    tallies: list[OptionTally] = Field(description="every option, most votes first")
    abstained: list[str] = Field(description="experts whose choice matched no option")
    experts: list[ExpertAnswer]
    total_cost_usd: float
    budget_usd: float
    notes: list[str] = Field(default_factory=list)


class ExpertInfo(BaseModel):
    name: str
    provider: str
    provider_kind: str
    model: str
    input_usd_per_mtok: float | None = Field(description="configured price; None = unknown (counted as 0)")
    output_usd_per_mtok: float | None
    timeout_s: float
    structured_output: bool = Field(description="whether JSON-schema output is requested")


class ProviderInfo(BaseModel):
    name: str
    kind: str
    base_url: str
    key_configured: bool = Field(description="whether an API key was found (the key itself is never shown)")
    breaker: str = Field(
        description="circuit breaker: closed (healthy), open (refusing), half_open (probing)"
    )
    calls: int
    failures: int
    last_error: str | None
    last_latency_ms: float | None


class ExpertRoster(BaseModel):
    """The configured circle."""

    experts: list[ExpertInfo] = Field(description="this page of the experts")
    total_experts: int = Field(default=0, description="experts configured in all")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next page of experts; null on the last page"
    )
    providers: list[ProviderInfo]
    source: str = Field(description="config, or local (an OpenAI-compatible server found on this machine)")
    notes: list[str] = Field(default_factory=list)
