"""The chairman's synthesis and the verdict follow-up, against the FAKE providers on loopback."""

from __future__ import annotations

import re
from typing import Any

import pytest

from servers.experts.circle_ops import AskRequest
from servers.experts.models import ExpertStatus
from tests.integration.experts.circle_setup import circle_on, fake_settings
from tests.integration.experts.conftest import FAKE_KEY
from tests.integration.experts.fake_providers import Behaviour, FakeProviders, prompt_text

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

QUESTION = "Which database should the order service use, Postgres or MongoDB?"
YES = "Postgres fits: transactions and joins matter here.\nVERDICT: Postgres | CONFIDENCE: 0.9"
YES_TOO = "Go with Postgres, the relational model suits the data.\nVERDICT: Postgres | CONFIDENCE: 0.7"
NO = "MongoDB is simpler for schemaless documents.\nVERDICT: MongoDB | CONFIDENCE: 0.6"
KEEPS = (
    "Use Postgres: transactions and joins decide it (Experts A and B). Expert C dissents: MongoDB is "
    "simpler for schemaless documents, which matters if the order schema keeps changing."
)
DROPS = "Use Postgres. Transactions and joins decide it, and the panel agrees."

THREE = [
    {"name": "claude", "provider": "anthropic", "model": "claude-1", "output_usd_per_mtok": 15},
    {"name": "gemini", "provider": "gemini", "model": "gemini-1", "output_usd_per_mtok": 5},
    {"name": "gpt", "provider": "openai", "model": "gpt-1", "output_usd_per_mtok": 8},
]


def chairing(answer: str, synthesis: str) -> Behaviour:
    """An expert that answers, and as chairman (the synthesis prompt) writes `synthesis`."""

    def respond(body: dict[str, Any]) -> str:
        return synthesis if "Dissent you must keep visible" in prompt_text(body) else answer

    return Behaviour(respond=respond, input_tokens=100, output_tokens=40)


def script(fake: FakeProviders, synthesis: str) -> None:
    fake.script.update(
        {
            "claude-1": Behaviour(answer=YES, input_tokens=100, output_tokens=50),
            "gemini-1": chairing(YES_TOO, synthesis),
            "gpt-1": Behaviour(answer=NO, input_tokens=90, output_tokens=30),
        }
    )


def chair_calls(fake: FakeProviders) -> list[Any]:
    return [s for s in fake.seen if "Dissent you must keep visible" in prompt_text(s.body)]


async def test_the_chairman_writes_from_anonymised_answers_and_the_measured_consensus(
    fake: FakeProviders,
) -> None:
    script(fake, KEEPS)
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=QUESTION, synthesize=True, chairman="gemini"))
    synthesis = report.synthesis
    assert synthesis is not None and synthesis.status is ExpertStatus.OK
    assert (synthesis.chairman, synthesis.provider, synthesis.model) == ("gemini", "gemini", "gemini-1")
    # The measured numbers are the report's own, untouched by the chairman.
    assert report.agreement == pytest.approx(2 / 3, abs=1e-3)
    assert report.consensus_verdict == "Postgres"
    # What the chairman was shown: letters, never names; the numbers; the dissent with its letter.
    [call] = chair_calls(fake)
    shown = prompt_text(call.body)
    assert "[Expert A]" in shown and "[Expert C]" in shown
    assert not re.search(r"\b(claude|gpt|gemini)\b", shown)
    assert "agreement 0.67" in shown
    assert re.search(r"- Expert C \(a minority conclusion\): MongoDB", shown)
    # Its text is checked: the dissent is cited, and the letters now carry the names.
    [minority] = [d for d in synthesis.dissent if d.kind == "minority"]
    assert (minority.experts, minority.labels, minority.text) == (["gpt"], ["C"], "MongoDB")
    assert minority.in_synthesis
    assert synthesis.text is not None and "Expert C (gpt) dissents" in synthesis.text
    assert not any("does not cite" in n for n in report.notes)


async def test_a_dissent_the_chairman_drops_stays_in_the_report_attributed(fake: FakeProviders) -> None:
    script(fake, DROPS)
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=QUESTION, synthesize=True, chairman="gemini"))
    assert report.synthesis is not None and report.synthesis.text == DROPS
    [minority] = [d for d in report.synthesis.dissent if d.kind == "minority"]
    assert minority.experts == ["gpt"] and minority.text == "MongoDB"
    assert not minority.in_synthesis
    assert any("does not cite" in n and "synthesis.dissent" in n for n in report.notes)


async def test_synthesis_is_one_more_call_and_its_cost_is_counted(fake: FakeProviders) -> None:
    script(fake, KEEPS)
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=QUESTION, synthesize=True, chairman="gemini"))
    assert len(fake.seen) == 4  # three answers, one synthesis
    answers_done = max(s.at for s in fake.seen if s not in chair_calls(fake))
    assert chair_calls(fake)[0].at >= answers_done  # written after every answer came back
    assert report.synthesis is not None
    assert report.synthesis.cost_usd == pytest.approx(40 * 5 / 1e6)
    experts_cost = sum(e.cost_usd for e in report.experts)
    assert report.total_cost_usd == pytest.approx(experts_cost + report.synthesis.cost_usd)


async def test_a_budget_that_cannot_cover_the_chairman_skips_the_synthesis(fake: FakeProviders) -> None:
    script(fake, KEEPS)
    # Each answer may cost up to $1.00, the chairman up to $4.00: $2.50 covers the answers only.
    experts = [{**e, "max_tokens": 1000, "output_usd_per_mtok": 1000} for e in THREE]
    experts[1]["max_tokens"] = 4000
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(
            AskRequest(
                question=QUESTION,
                experts=["claude", "gpt"],
                synthesize=True,
                chairman="gemini",
                budget_usd=2.5,
            )
        )
    assert report.answered == 2
    assert report.synthesis is not None and report.synthesis.status is ExpertStatus.SKIPPED_BUDGET
    assert not chair_calls(fake)
    assert report.total_cost_usd <= 2.5
    assert any("budget could not cover the chairman" in n for n in report.notes)


async def test_the_configured_default_and_chairman_apply(fake: FakeProviders) -> None:
    script(fake, KEEPS)
    settings = fake_settings(fake, THREE, synthesize=True, chairman="gemini")
    async with circle_on(settings, FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=QUESTION))
        plain = await circle.ask(AskRequest(question=QUESTION, synthesize=False))
    assert report.synthesis is not None and report.synthesis.chairman == "gemini"
    assert plain.synthesis is None


async def test_an_unknown_chairman_is_refused_before_any_call(fake: FakeProviders) -> None:
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        with pytest.raises(Exception, match="unknown experts: nobody"):
            await circle.ask(AskRequest(question=QUESTION, synthesize=True, chairman="nobody"))
    assert not fake.seen


async def test_answers_without_verdicts_get_a_one_line_follow_up(fake: FakeProviders) -> None:
    def follows_up(answer: str, verdict: str) -> Behaviour:
        def respond(body: dict[str, Any]) -> str:
            return (
                f"VERDICT: {verdict}" if "State your conclusion in one line" in prompt_text(body) else answer
            )

        return Behaviour(respond=respond)

    fake.script.update(
        {
            "a": follows_up("Relational storage suits orders; joins matter.", "Postgres"),
            "b": follows_up("A SQL engine with transactions is what orders need.", "Postgres"),
            "c": follows_up("Documents without a fixed schema fit a document store.", "MongoDB"),
        }
    )
    experts = [{"name": n, "provider": "compat", "model": n, "output_usd_per_mtok": 10} for n in "abc"]
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=QUESTION))
    assert len(fake.calls(path_part="chat")) == 6  # an answer and a follow-up each
    assert [e.parse_format for e in report.experts] == ["follow_up"] * 3
    assert [e.verdict for e in report.experts] == ["Postgres", "Postgres", "MongoDB"]
    assert report.signal == "verdicts"
    assert report.grouping is not None and report.grouping.basis == "verdicts"
    assert sorted(report.clusters[0].members) == ["a", "b"]
    assert all(e.output_tokens == 20 for e in report.experts)  # both calls are counted
    assert any("one-line verdict in one short call (3 gave one)" in n for n in report.notes)


async def test_without_the_follow_up_wording_alone_is_reported_as_low_confidence(fake: FakeProviders) -> None:
    fake.script.update({n: Behaviour(answer=f"Some reasoning by {n} without a verdict line.") for n in "ab"})
    experts = [{"name": n, "provider": "compat", "model": n} for n in "ab"]
    async with circle_on(fake_settings(fake, experts, verdict_follow_up=False), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question=QUESTION))
    assert len(fake.calls(path_part="chat")) == 2
    assert report.grouping is not None
    assert (report.grouping.basis, report.grouping.level) == ("wording", "low")
    assert report.grouping.confidence is not None and report.grouping.confidence < 0.3
    assert "wording of the answers alone" in report.grouping.note
