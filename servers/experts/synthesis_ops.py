"""The chairman's synthesis: one more call, after the measured consensus, that writes the answer.

The chairman (a configured expert) sees the answers anonymised (Expert A, B, … in the circle's
order), the measured numbers, and every dissent with the letters of who holds it: the conclusions
of the smaller groups, and the claims that only one expert outside the largest group made. Its
text is then checked, not trusted: a dissent counts as kept only when a sentence of the synthesis
names all its letters and shares a content word with it. Every dissent stays in the report,
attributed by name, either way, and the letters in the text are followed by the experts' names.
The call is charged to the same budget.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from servers.experts.calls import Answered, Budget, call_expert, clip
from servers.experts.conclusions import STOP, words
from servers.experts.models import CircleReport, DissentNote, ExpertStatus, Synthesis
from servers.experts.prompts import labels as letters
from servers.experts.roster import Expert
from servers.experts.wire_formats import Prompt

CHAIRMAN_SYSTEM = (
    "You chair a panel of experts who answered the same question independently. You write the final "
    "answer from their answers and the measured consensus. You never hide a dissent: you name who holds "
    "it by letter."
)
MAX_DISSENT = 8
_SHOWN = 1200  # characters of each answer the chairman reads
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")


def _name(label: str) -> str:
    return f"Expert {label}"


def dissent_of(
    report: CircleReport, label_of: dict[str, str], verdicts: dict[str, str | None]
) -> list[DissentNote]:
    """The minority groups' conclusions and their members' lone claims, attributed (at most MAX_DISSENT)."""
    out: list[DissentNote] = []
    for cluster in report.clusters[1:]:
        text = verdicts.get(cluster.representative) or ""
        if not text:
            answer = next((e.answer for e in report.experts if e.expert == cluster.representative), None)
            text = clip(answer or "", 300)
        out.append(
            DissentNote(
                kind="minority",
                experts=list(cluster.members),
                labels=[label_of[m] for m in cluster.members],
                text=text,
                in_synthesis=False,
            )
        )
    majority = set(report.clusters[0].members) if report.clusters else set()
    for claim in report.dissent:
        if set(claim.supporters) & majority:
            continue  # a detail of the majority's case, not a dissent from it
        out.append(
            DissentNote(
                kind="claim",
                experts=list(claim.supporters),
                labels=[label_of[s] for s in claim.supporters],
                text=claim.text,
                in_synthesis=False,
            )
        )
    return out[:MAX_DISSENT]


def synthesis_prompt(
    question: str,
    shown: Sequence[tuple[str, str | None, str]],
    report: CircleReport,
    dissent: list[DissentNote],
    label_of: dict[str, str],
) -> str:
    """`shown`: (letter, verdict, answer) per answering expert; `label_of`: name -> letter."""
    answers = "\n\n".join(
        f"[{_name(label)}]\n" + (f"Verdict: {verdict}\n" if verdict else "") + clip(text, _SHOWN)
        for label, verdict, text in shown
    )
    groups = "\n".join(
        f"- group {i + 1} ({c.share:.0%} of the answers): "
        + ", ".join(_name(label_of.get(m, "?")) for m in c.members)
        for i, c in enumerate(report.clusters)
    )
    shared = "\n".join(f"- {p.text}" for p in report.key_points[:6]) or "- (none measured)"
    dissent_lines = "\n".join(
        f"- {', '.join(_name(label) for label in d.labels)}"
        f" ({'a minority conclusion' if d.kind == 'minority' else 'a claim no one else made'}): {d.text}"
        for d in dissent
    )
    parts = [
        f"Question:\n{question.strip()}",
        f"The panel's answers (anonymised):\n\n{answers}",
        "Measured consensus (computed from the answers; these numbers are not yours to change):\n"
        f"- agreement {report.agreement:.2f}, entropy {report.entropy:.2f}, grouped by {report.signal}\n"
        f"{groups}\nPoints most experts share:\n{shared}",
    ]
    if dissent_lines:
        parts.append(
            "Dissent you must keep visible, each with the letter of who holds it (e.g. 'Expert C argues "
            f"...'):\n{dissent_lines}"
        )
    parts.append(
        "Write the final answer for the person who asked: what the evidence supports, where the panel "
        "split, and every dissent above with its expert letter. Do not claim more agreement than was "
        "measured. Plain text, no preamble."
    )
    return "\n\n".join(parts)


def kept(text: str, note: DissentNote) -> bool:
    """Whether one sentence of `text` names every letter of the dissent and shares a content word."""
    content = {w for w in words(note.text) if w not in STOP and len(w) >= 4}
    for sentence in _SENTENCES.split(text):
        if not re.search(r"\bExperts?\b", sentence):
            continue
        if all(re.search(rf"\b{re.escape(label)}\b", sentence) for label in note.labels) and (
            not content or content & set(words(sentence))
        ):
            return True
    return False


_CITED = re.compile(r"\bExperts?\s+([A-Z]{1,2}(?:(?:,\s*|,?\s+and\s+)[A-Z]{1,2})*)\b(?! \()")


def name_letters(text: str, name_of: dict[str, str]) -> str:
    """'Expert B' -> 'Expert B (gpt)', 'Experts A and C' -> 'Experts A (claude) and C (gpt)'."""

    def named(match: re.Match[str]) -> str:
        letters_cited = re.sub(
            r"\b([A-Z]{1,2})\b",
            lambda m: f"{m.group(1)} ({name_of[m.group(1)]})" if m.group(1) in name_of else m.group(1),
            match.group(1),
        )
        return match.group(0)[: match.start(1) - match.start(0)] + letters_cited

    return _CITED.sub(named, text)


async def synthesise(
    chairman: Expert,
    question: str,
    answered: Sequence[Answered],
    report: CircleReport,
    budget: Budget,
    *,
    max_chars: int,
) -> Synthesis:
    """The chairman's answer with its dissent check; its cost is charged to `budget`."""
    ok = [a for a in answered if a.ok]
    label_list = letters(len(ok))
    label_of = {a.expert.name: label for a, label in zip(ok, label_list, strict=True)}
    verdicts = {a.expert.name: a.entry.verdict for a in ok}
    dissent = dissent_of(report, label_of, verdicts)
    shown = [(label_of[a.expert.name], a.entry.verdict, a.text or "") for a in ok]
    prompt = Prompt(
        user=synthesis_prompt(question, shown, report, dissent, label_of),
        system=chairman.settings.system_prompt or CHAIRMAN_SYSTEM,
        max_tokens=chairman.settings.max_tokens,
        temperature=chairman.settings.temperature,
        seed=chairman.settings.seed,
    )
    outcome = await call_expert(chairman, prompt, budget)
    base = Synthesis(
        chairman=chairman.name,
        provider=chairman.client.name,
        model=chairman.settings.model,
        status=outcome.status,
        text=None,
        dissent=dissent,
        latency_ms=outcome.latency_ms,
        cost_usd=round(outcome.cost_usd, 8),
        error=outcome.error,
    )
    if outcome.completion is None:
        return base
    base.input_tokens = outcome.completion.input_tokens
    base.output_tokens = outcome.completion.output_tokens
    text = outcome.completion.text.strip()
    if not text:
        base.status, base.error = ExpertStatus.ERROR, "empty synthesis"
        return base
    for note in dissent:
        note.in_synthesis = kept(text, note)
    name_of = {label: name for name, label in label_of.items()}
    base.text = clip(name_letters(text, name_of), max_chars)
    return base


__all__ = ["CHAIRMAN_SYSTEM", "dissent_of", "kept", "name_letters", "synthesis_prompt", "synthesise"]
