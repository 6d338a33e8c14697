"""Asking the circle: fan-out, escalation, verdicts, the report, synthesis and conversations."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from servers.experts.attachments import Attachment, FileLimits, PathCheck, files_block, read_attachments
from servers.experts.calls import Answered, Budget, Progress, ProgressFn, answer_from, fan_out
from servers.experts.measuring import measure
from servers.experts.models import CircleReport, Escalation, ExpertAnswer, ExpertStatus, JudgeMatrix
from servers.experts.peer_rounds import judge_round, verdict_round
from servers.experts.prompts import ANSWER_SCHEMA, Stance, answer_prompt, stance_system
from servers.experts.providers import ProviderError
from servers.experts.report_ops import build_report
from servers.experts.roster import Expert, Roster
from servers.experts.settings import ExpertsSettings
from servers.experts.synthesis_ops import synthesise
from servers.experts.threads import MemoryThreadStore, RoundRecord, ThreadStore, history_for
from servers.experts.wire_formats import ImagePart, Prompt
from shared.errors import InvalidArgument, UpstreamUnavailable

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
    synthesize: bool | None = None
    chairman: str | None = None
    thread_id: str | None = None
    files: list[str] | None = None
    caller: str = "local"  # whose conversation this is (the server passes the caller's identity)


class Circle:
    """The experts server's domain logic. Build once per server around a `Roster`."""

    def __init__(
        self,
        roster: Roster,
        *,
        max_output_chars: int = 20_000,
        threads: ThreadStore | None = None,
        check_path: PathCheck | None = None,
    ) -> None:
        self.roster = roster
        self.max_output_chars = max_output_chars
        s = roster.settings
        self.threads: ThreadStore = threads or MemoryThreadStore(
            ttl_s=s.thread_ttl_s, max_threads=s.max_threads, max_rounds=s.thread_rounds
        )
        self.check_path = check_path

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

    def prompt_for(
        self,
        expert: Expert,
        user_text: str,
        *,
        stance: Stance | None = None,
        images: tuple[ImagePart, ...] = (),
    ) -> Prompt:
        return Prompt(
            user=user_text,
            system=stance_system(expert.settings.system_prompt, stance),
            schema=ANSWER_SCHEMA if expert.structured else None,
            max_tokens=expert.settings.max_tokens,
            temperature=expert.settings.temperature,
            seed=expert.settings.seed,
            images=images,
        )

    def answer_chars(self) -> int:
        """Characters of each answer shown in a report: the whole report stays in the output budget."""
        share = self.max_output_chars // (len(self.roster.experts) + 3)
        return max(200, min(self.settings.max_answer_chars, share))

    async def answer_round(
        self,
        experts: Sequence[Expert],
        texts: Sequence[str],
        budget: Budget,
        progress: Progress,
        stances: Sequence[Stance | None] | None = None,
        images: tuple[ImagePart, ...] = (),
    ) -> list[Answered]:
        stance_of = list(stances) if stances is not None else [None] * len(experts)
        calls = [
            (e, self.prompt_for(e, text, stance=stance, images=images))
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

    async def report(
        self,
        question: str,
        answered: Sequence[Answered],
        budget: Budget,
        *,
        frame_question: str | None = None,
        judge: JudgeMatrix | None = None,
        escalation: Escalation | None = None,
        weights: dict[str, float] | None = None,
        notes: list[str] | None = None,
    ) -> CircleReport:
        notes = list(notes or [])
        ok = [a for a in answered if a.ok]
        embeddings = (
            None if judge is not None else await self.embeddings_for([a.text or "" for a in ok], notes)
        )
        return build_report(
            question,
            answered,
            budget,
            frame_question=frame_question,
            answer_chars=self.answer_chars(),
            judge=judge,
            escalation=escalation,
            weights=weights,
            embeddings=embeddings,
            notes=notes,
        )

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

    # --- experts_ask -------------------------------------------------------------------------------

    async def ask(self, request: AskRequest, progress_fn: ProgressFn | None = None) -> CircleReport:
        self.check_text("question", request.question)
        self.check_text("context", request.context)
        experts = await self.choose(request.experts, request.timeout_s)
        synthesize = self.settings.synthesize if request.synthesize is None else request.synthesize
        named_chairman = self._named_chairman(request.chairman) if synthesize else None
        attachments = await anyio.to_thread.run_sync(self._read_files, request.files or [])
        images = tuple(a.image for a in attachments if a.image is not None)
        if images:
            self._check_images(experts)
        budget = self.budget(request.budget_usd)
        rounds = await self.threads.load(request.caller, request.thread_id) if request.thread_id else []
        notes: list[str] = []
        if len(experts) < 2:
            notes.append("Only one expert answered the call: there is no consensus to measure.")
        files = files_block(attachments)
        text_of = {
            e.name: answer_prompt(
                request.question,
                request.context,
                structured=e.structured,
                files=files,
                history=history_for(rounds, e.name, self.settings.thread_history_chars),
            )
            for e in experts
        }
        follow_up = self.settings.verdict_follow_up and not request.judge
        escalation: Escalation | None = None
        if request.min_agreement is None:
            progress = Progress(progress_fn, len(experts))
            answered = await self.answer_round(
                experts, [text_of[e.name] for e in experts], budget, progress, images=images
            )
            if follow_up:
                await self._verdicts(answered, request.question, budget, progress, notes)
        else:
            answered, escalation = await self._escalate(
                experts, text_of, request, budget, progress_fn, images, follow_up, notes
            )
        judge = None
        if request.judge:
            judge = await judge_round(answered, budget, Progress(progress_fn, 0))
        report = await self.report(
            request.question,
            answered,
            budget,
            frame_question=request.question,
            judge=judge,
            escalation=escalation,
            notes=notes,
        )
        report.attachments = [a.info for a in attachments]
        if rounds:
            report.notes.append(f"Continued a conversation: the experts saw {len(rounds)} earlier round(s).")
        if synthesize:
            await self._synthesise(named_chairman, request.question, answered, report, budget)
        await self._remember(request, report)
        return report

    def _read_files(self, paths: list[str]) -> list[Attachment]:
        s = self.settings
        limits = FileLimits(s.max_files, s.max_file_bytes, s.max_files_bytes, s.max_image_bytes)
        return read_attachments(paths, self.check_path, limits)

    def _check_images(self, experts: Sequence[Expert]) -> None:
        refusing = [e for e in experts if not e.client.settings.takes_images]
        if not refusing:
            return
        taking = [e.name for e in self.roster.experts if e.client.settings.takes_images]
        who = ", ".join(f"{e.name} (provider {e.client.name}, {e.client.kind.value})" for e in refusing)
        raise InvalidArgument(
            f"an image is attached, but these experts' providers take no images: {who}. Ask only experts "
            f"that do with `experts` ({', '.join(taking) or 'none is configured'}), or set "
            "accepts_images = true on a provider that serves a vision model."
        )

    def _named_chairman(self, requested: str | None) -> Expert | None:
        name = requested or self.settings.chairman
        return self.roster.select([name], self.roster.experts)[0] if name else None

    async def _verdicts(
        self, answered: list[Answered], question: str, budget: Budget, progress: Progress, notes: list[str]
    ) -> None:
        asked = await verdict_round(answered, question, budget, progress)
        if asked:
            got = sum(1 for a in answered if a.entry.parse_format == "follow_up")
            notes.append(
                f"{len(asked)} answer(s) stated no verdict ({', '.join(asked)}); each expert was asked for "
                f"its one-line verdict in one short call ({got} gave one)."
            )

    async def _synthesise(
        self,
        chairman: Expert | None,
        question: str,
        answered: list[Answered],
        report: CircleReport,
        budget: Budget,
    ) -> None:
        chairman = chairman or next((a.expert for a in answered if a.ok), None)
        if chairman is None or not report.answered:
            report.notes.append("No synthesis: no expert answered.")
            return
        synthesis = await synthesise(
            chairman, question, answered, report, budget, max_chars=self.answer_chars() * 3
        )
        report.synthesis = synthesis
        report.total_cost_usd = round(report.total_cost_usd + synthesis.cost_usd, 8)
        if synthesis.status is ExpertStatus.SKIPPED_BUDGET:
            report.notes.append(f"No synthesis: the budget could not cover the chairman ({synthesis.error}).")
        elif synthesis.text is None:
            report.notes.append(f"No synthesis: the chairman {chairman.name} failed ({synthesis.error}).")
        dropped = [d for d in synthesis.dissent if not d.in_synthesis]
        if synthesis.text is not None and dropped:
            report.notes.append(
                f"The chairman's synthesis does not cite {len(dropped)} dissenting point(s); they are kept "
                "in synthesis.dissent with who holds them."
            )

    async def _remember(self, request: AskRequest, report: CircleReport) -> None:
        record = RoundRecord.summarise(
            request.question,
            consensus=report.consensus_verdict or report.consensus_answer,
            agreement=report.agreement,
            synthesis=report.synthesis.text if report.synthesis else None,
            answers={e.expert: (e.verdict, e.answer) for e in report.experts if e.status is ExpertStatus.OK},
        )
        try:
            report.thread_id, report.round = await self.threads.append(
                request.caller, request.thread_id, record
            )
        except UpstreamUnavailable as exc:
            report.notes.append(f"This round was not saved to the conversation: {exc}")

    async def _escalate(
        self,
        experts: list[Expert],
        text_of: dict[str, str],
        request: AskRequest,
        budget: Budget,
        progress_fn: ProgressFn | None,
        images: tuple[ImagePart, ...],
        follow_up: bool,
        notes: list[str],
    ) -> tuple[list[Answered], Escalation]:
        min_agreement = request.min_agreement or 0.0
        if not 0 < min_agreement <= 1:
            raise InvalidArgument("min_agreement must be in (0, 1], e.g. 0.75")

        async def asking(group: list[Expert], progress: Progress) -> list[Answered]:
            got = await self.answer_round(
                group, [text_of[e.name] for e in group], budget, progress, images=images
            )
            if follow_up:
                await self._verdicts(got, request.question, budget, progress, notes)
            return got

        # Cheapest first; the configured order breaks ties.
        order = sorted(experts, key=lambda e: e.worst_case_cost(len(text_of[e.name])))
        start = min(len(order), max(2, self.settings.escalation_start))
        progress = Progress(progress_fn, start)
        answered = await asking(order[:start], progress)
        pending = order[start:]
        agreement = self._agreement(answered, request.question)
        while pending and (agreement is None or agreement < min_agreement):
            expert = pending.pop(0)
            progress.grow(1)
            answered += await asking([expert], progress)
            agreement = self._agreement(answered, request.question)
        reached = agreement is not None and agreement >= min_agreement
        asked = len(answered)
        for expert in pending:
            entry = ExpertAnswer(
                expert=expert.name,
                provider=expert.client.name,
                model=expert.settings.model,
                status=ExpertStatus.NOT_ASKED,
            )
            answered.append(Answered(expert, entry))
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

    def _agreement(self, answered: Sequence[Answered], question: str) -> float | None:
        ok = [a for a in answered if a.ok]
        if len(ok) < 2:
            return None
        return measure(ok, question).report.agreement


__all__ = ["AskRequest", "Circle"]
