"""Asking the circle: fan-out, escalation, and the measured consensus report."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from servers.experts.calls import Answered, Budget, Progress, ProgressFn, answer_from, clip, fan_out
from servers.experts.models import (
    CircleReport,
    ClaimSummary,
    ClusterSummary,
    Escalation,
    ExpertAnswer,
    ExpertStatus,
    JudgeMatrix,
)
from servers.experts.peer_rounds import judge_round
from servers.experts.prompts import (
    ANSWER_SCHEMA,
    Stance,
    answer_prompt,
    stance_system,
)
from servers.experts.providers import ProviderError
from servers.experts.roster import Expert, Roster
from servers.experts.settings import ExpertsSettings
from servers.experts.wire_formats import Prompt
from shared.consensus import ConsensusReport, consensus
from shared.errors import InvalidArgument

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AskRequest:
    question: str
    experts: list[str] | None = None
    context: str | None = None
    budget_usd: float | None = None
    timeout_s: float | None = None
    min_agreement: float | None = None
    judge: bool = False


class Circle:
    """The experts server's domain logic. Build once per server around a `Roster`."""

    def __init__(self, roster: Roster, *, max_output_chars: int = 20_000) -> None:
        self.roster = roster
        self.max_output_chars = max_output_chars

    @property
    def settings(self) -> ExpertsSettings:
        return self.roster.settings

    # --- shared steps -----------------------------------------------------------------------------

    async def choose(self, names: list[str] | None, timeout_s: float | None) -> list[Expert]:
        experts = self.roster.select(names, await self.roster.ensure_experts())
        if timeout_s is not None:
            experts = [dataclasses.replace(e, timeout_s=min(e.timeout_s, timeout_s)) for e in experts]
        return experts

    def budget(self, budget_usd: float | None) -> Budget:
        limit = self.settings.default_budget_usd if budget_usd is None else budget_usd
        if not 0 <= limit <= self.settings.max_budget_usd:
            raise InvalidArgument(
                f"budget_usd must be between 0 and {self.settings.max_budget_usd} (the configured maximum)"
            )
        return Budget(limit)

    def check_text(self, name: str, text: str | None) -> None:
        if text is None:
            return
        if not text.strip() and name == "question":
            raise InvalidArgument("question is empty: ask something")
        if len(text) > self.settings.max_question_chars:
            raise InvalidArgument(
                f"{name} has {len(text)} characters, over the limit of {self.settings.max_question_chars}"
            )
        if "\x00" in text:
            raise InvalidArgument(f"{name} contains a NUL character")

    def prompt_for(self, expert: Expert, user_text: str, *, stance: Stance | None = None) -> Prompt:
        return Prompt(
            user=user_text,
            system=stance_system(expert.settings.system_prompt, stance),
            schema=ANSWER_SCHEMA if expert.structured else None,
            max_tokens=expert.settings.max_tokens,
            temperature=expert.settings.temperature,
            seed=expert.settings.seed,
        )

    def answer_chars(self) -> int:
        """Characters of each answer shown in a report: the whole report stays in the output budget."""
        share = self.max_output_chars // (len(self.roster.experts) + 2)
        return max(200, min(self.settings.max_answer_chars, share))

    async def answer_round(
        self,
        experts: Sequence[Expert],
        texts: Sequence[str],
        budget: Budget,
        progress: Progress,
        stances: Sequence[Stance | None] | None = None,
    ) -> list[Answered]:
        stance_of = list(stances) if stances is not None else [None] * len(experts)
        calls = [
            (e, self.prompt_for(e, text, stance=stance))
            for e, text, stance in zip(experts, texts, stance_of, strict=True)
        ]
        outcomes = await fan_out(calls, budget, progress)
        answered = []
        for expert, outcome, stance in zip(experts, outcomes, stance_of, strict=True):
            entry, parsed = answer_from(expert, outcome, max_chars=self.answer_chars(), stance=stance)
            text = parsed.answer if parsed is not None and parsed.answer else None
            if parsed is not None and text is None:
                entry.status, entry.error = ExpertStatus.ERROR, "empty answer"
            answered.append(Answered(expert, entry, text))
        return answered

    # --- experts_ask -------------------------------------------------------------------------------

    async def ask(self, request: AskRequest, progress_fn: ProgressFn | None = None) -> CircleReport:
        self.check_text("question", request.question)
        self.check_text("context", request.context)
        experts = await self.choose(request.experts, request.timeout_s)
        budget = self.budget(request.budget_usd)
        notes: list[str] = []
        if len(experts) < 2:
            notes.append("Only one expert answered the call: there is no consensus to measure.")
        text_of = {
            e.name: answer_prompt(request.question, request.context, structured=e.structured) for e in experts
        }

        escalation: Escalation | None = None
        if request.min_agreement is None:
            progress = Progress(progress_fn, len(experts))
            answered = await self.answer_round(experts, [text_of[e.name] for e in experts], budget, progress)
        else:
            answered, escalation = await self._escalate(
                experts, text_of, request.min_agreement, budget, progress_fn
            )

        judge = None
        if request.judge:
            judge = await judge_round(answered, budget, Progress(progress_fn, 0))
        return await self.report(
            request.question, answered, budget, judge=judge, escalation=escalation, notes=notes
        )

    async def _escalate(
        self,
        experts: list[Expert],
        text_of: dict[str, str],
        min_agreement: float,
        budget: Budget,
        progress_fn: ProgressFn | None,
    ) -> tuple[list[Answered], Escalation]:
        if not 0 < min_agreement <= 1:
            raise InvalidArgument("min_agreement must be in (0, 1], e.g. 0.75")
        # Cheapest first; the configured order breaks ties.
        order = sorted(experts, key=lambda e: e.worst_case_cost(len(text_of[e.name])))
        start = min(len(order), max(2, self.settings.escalation_start))
        progress = Progress(progress_fn, start)
        answered = await self.answer_round(
            order[:start], [text_of[e.name] for e in order[:start]], budget, progress
        )
        pending = order[start:]
        agreement = self._agreement(answered)
        while pending and (agreement is None or agreement < min_agreement):
            expert = pending.pop(0)
            progress.grow(1)
            answered += await self.answer_round([expert], [text_of[expert.name]], budget, progress)
            agreement = self._agreement(answered)
        reached = agreement is not None and agreement >= min_agreement
        asked = len(answered)
        for expert in pending:
            answered.append(
                Answered(
                    expert,
                    ExpertAnswer(
                        expert=expert.name,
                        provider=expert.client.name,
                        model=expert.settings.model,
                        status=ExpertStatus.NOT_ASKED,
                    ),
                )
            )
        shown = "n/a" if agreement is None else f"{agreement:.2f}"
        if reached and pending:
            note = (
                f"Stopped early: agreement {shown} reached min_agreement {min_agreement:.2f} after "
                f"{asked} of {len(order)} experts (cheapest first); {len(pending)} not asked."
            )
        elif reached:
            note = f"Agreement {shown} reached min_agreement {min_agreement:.2f} with all {asked} experts."
        else:
            note = f"Asked all {asked} experts; agreement {shown} stayed below {min_agreement:.2f}."
        escalation = Escalation(
            min_agreement=min_agreement,
            asked=asked,
            available=len(order),
            stopped_early=reached and bool(pending),
            note=note,
        )
        return answered, escalation

    def _agreement(self, answered: Sequence[Answered]) -> float | None:
        ok = [a for a in answered if a.ok]
        if len(ok) < 2:
            return None
        return measure(ok).agreement

    # --- the report --------------------------------------------------------------------------------

    async def embeddings_for(self, texts: list[str], notes: list[str]) -> list[list[float]] | None:
        config = self.settings.embeddings
        if config is None or len(texts) < 2:
            return None
        client = self.roster.clients[config.provider]
        try:
            return await client.embed(config.model, texts, timeout_s=self.settings.default_timeout_s)
        except ProviderError as exc:
            notes.append(f"Embeddings unavailable ({exc}); grouped by text instead.")
            return None

    async def report(
        self,
        question: str,
        answered: Sequence[Answered],
        budget: Budget,
        *,
        judge: JudgeMatrix | None = None,
        escalation: Escalation | None = None,
        weights: dict[str, float] | None = None,
        notes: list[str] | None = None,
    ) -> CircleReport:
        notes = list(notes or [])
        ok = [a for a in answered if a.ok]
        entries = [a.entry for a in answered]
        skipped = [a.expert.name for a in answered if a.entry.status is ExpertStatus.SKIPPED_BUDGET]
        if skipped:
            notes.append(f"Budget ${budget.limit_usd:.4f} ran out: skipped {', '.join(skipped)}.")
        failed = [
            a.expert.name for a in answered if a.entry.status in (ExpertStatus.ERROR, ExpertStatus.TIMEOUT)
        ]
        if failed:
            notes.append(f"No answer from {', '.join(failed)} (see each expert's error).")
        total = round(sum(e.cost_usd for e in entries), 8)
        base = {
            "question": clip(question, 500),
            "experts": entries,
            "answered": len(ok),
            "total_cost_usd": total,
            "budget_usd": budget.limit_usd,
            "judge": judge,
            "escalation": escalation,
        }
        if not ok:
            notes.append("No expert answered, so there is no consensus.")
            return CircleReport(
                consensus_answer=None,
                consensus_verdict=None,
                consensus_expert=None,
                agreement=0.0,
                entropy=0.0,
                signal="none",
                clusters=[],
                key_points=[],
                dissent=[],
                notes=notes,
                **base,
            )
        agreement_matrix = judge.matrix if judge is not None and len(judge.matrix) == len(ok) else None
        embeddings = (
            None if agreement_matrix else await self.embeddings_for([a.text or "" for a in ok], notes)
        )
        weight_list = [weights.get(a.expert.name, 1.0) for a in ok] if weights else None
        result = measure(ok, weights=weight_list, agreement=agreement_matrix, embeddings=embeddings)
        names = [a.expert.name for a in ok]
        clusters = [
            ClusterSummary(
                members=[names[m] for m in c.members],
                representative=names[c.representative],
                share=round(c.share, 4),
            )
            for c in result.clusters
        ]
        for index, cluster in enumerate(result.clusters):
            for member in cluster.members:
                ok[member].entry.cluster = index
        for i, a in enumerate(ok):
            others = [result.similarity[i][j] for j in range(len(ok)) if j != i]
            a.entry.agreement = round(sum(others) / len(others), 4) if others else 1.0
        chosen = ok[result.consensus] if result.consensus is not None else None
        if result.signal == "text":
            notes.append(
                "Grouped by wording only (no verdicts were readable): agreement measures topic more than "
                "conclusion. Ask with judge=true for a conclusion-level measure."
            )
        return CircleReport(
            consensus_answer=clip(chosen.text or "", self.answer_chars() * 2) if chosen else None,
            consensus_verdict=chosen.entry.verdict if chosen else None,
            consensus_expert=chosen.expert.name if chosen else None,
            agreement=round(result.agreement, 4),
            entropy=round(result.entropy, 4),
            signal=result.signal,
            clusters=clusters,
            key_points=[
                ClaimSummary(text=c.text, supporters=[names[s] for s in c.supporters])
                for c in result.key_points
            ],
            dissent=[
                ClaimSummary(text=c.text, supporters=[names[s] for s in c.supporters]) for c in result.dissent
            ],
            notes=notes,
            **base,
        )


def measure(
    ok: Sequence[Answered],
    *,
    weights: list[float] | None = None,
    agreement: list[list[float]] | None = None,
    embeddings: list[list[float]] | None = None,
) -> ConsensusReport:
    """The Rust consensus over the answers that came back.

    Only verdicts the expert stated (JSON or a VERDICT line) count as verdicts; a last sentence
    guessed by the fallback parser is shown in the report but not trusted as a conclusion.
    """
    verdicts = [a.entry.verdict if a.entry.parse_format in ("json", "line") else None for a in ok]
    return consensus(
        [a.text or "" for a in ok],
        weights=weights,
        verdicts=verdicts if any(v is not None for v in verdicts) else None,
        embeddings=embeddings,
        agreement=agreement,
    )


__all__ = ["AskRequest", "Circle", "measure"]
