"""The circle's domain logic against the FAKE providers on loopback (no MCP in between)."""

from __future__ import annotations

import logging
import re
from typing import Any

import anyio
import pytest

from servers.experts.circle_ops import AskRequest
from servers.experts.models import ExpertStatus
from servers.experts.review_ops import ReviewRequest, review
from servers.experts.roster import SETUP_HINT, Roster
from servers.experts.vote_ops import VoteRequest, vote
from shared.errors import InvalidArgument, ToolFailure
from tests.integration.experts.circle_setup import circle_on, fake_settings
from tests.integration.experts.conftest import FAKE_KEY
from tests.integration.experts.fake_providers import Behaviour, FakeProviders, fake_providers
from tests.support.services import free_port

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

YES = "Postgres fits: transactions and joins matter here.\nVERDICT: Postgres | CONFIDENCE: 0.9"
YES_TOO = "Go with Postgres, the relational model suits the data.\nVERDICT: Postgres | CONFIDENCE: 0.7"
NO = "MongoDB is simpler for schemaless documents.\nVERDICT: MongoDB | CONFIDENCE: 0.6"

THREE = [
    {
        "name": "claude",
        "provider": "anthropic",
        "model": "claude-1",
        "input_usd_per_mtok": 3,
        "output_usd_per_mtok": 15,
    },
    {
        "name": "gemini",
        "provider": "gemini",
        "model": "gemini-1",
        "input_usd_per_mtok": 1,
        "output_usd_per_mtok": 5,
    },
    {
        "name": "gpt",
        "provider": "openai",
        "model": "gpt-1",
        "input_usd_per_mtok": 2,
        "output_usd_per_mtok": 8,
    },
]


async def test_a_circle_over_three_wire_formats_measures_consensus(fake: FakeProviders) -> None:
    fake.script.update(
        {
            "claude-1": Behaviour(answer=YES, input_tokens=100, output_tokens=50),
            "gemini-1": Behaviour(answer=YES_TOO, input_tokens=120, output_tokens=40),
            "gpt-1": Behaviour(answer=NO, input_tokens=90, output_tokens=30),
        }
    )
    seen: list[tuple[int, int, str]] = []

    async def progress(done: int, total: int, message: str) -> None:
        seen.append((done, total, message))

    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="Which database?"), progress)

    assert report.answered == 3
    assert report.consensus_verdict == "Postgres"
    assert report.consensus_expert in {"claude", "gemini"}
    assert report.signal == "verdicts"
    assert sorted(report.clusters[0].members) == ["claude", "gemini"]
    assert report.clusters[0].share == pytest.approx(2 / 3, abs=1e-3)
    assert report.clusters[1].members == ["gpt"]
    assert 0.5 < report.agreement < 0.8
    assert report.entropy > 0
    by_name = {e.expert: e for e in report.experts}
    assert by_name["claude"].cost_usd == pytest.approx((100 * 3 + 50 * 15) / 1e6)
    assert by_name["gpt"].verdict == "MongoDB"
    assert by_name["gemini"].confidence == 0.7
    assert by_name["claude"].agreement is not None
    assert by_name["claude"].agreement > by_name["gpt"].agreement  # type: ignore[operator]
    assert report.total_cost_usd == pytest.approx(sum(e.cost_usd for e in report.experts))
    assert [s[0] for s in seen] == [1, 2, 3]
    assert all(total == 3 for _, total, _ in seen)


async def test_budget_runs_out_mid_circle(fake: FakeProviders) -> None:
    experts = [
        {
            "name": f"e{i}",
            "provider": "compat",
            "model": f"m{i}",
            "max_tokens": 1000,
            "output_usd_per_mtok": 1000,
        }
        for i in range(4)
    ]  # each call may cost up to $1.00 (1000 tokens at $1000/Mtok)
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="q?", budget_usd=2.5))
    statuses = [e.status for e in report.experts]
    assert statuses == [
        ExpertStatus.OK,
        ExpertStatus.OK,
        ExpertStatus.SKIPPED_BUDGET,
        ExpertStatus.SKIPPED_BUDGET,
    ]
    assert len(fake.calls(path_part="chat")) == 2  # skipped experts were never called
    assert report.total_cost_usd <= 2.5
    assert any("Budget" in note and "e2, e3" in note for note in report.notes)


async def test_budget_above_the_configured_maximum_is_refused(fake: FakeProviders) -> None:
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        with pytest.raises(InvalidArgument, match="budget_usd"):
            await circle.ask(AskRequest(question="q?", budget_usd=1000))


async def test_timeout_and_down_providers_do_not_sink_the_circle(fake: FakeProviders) -> None:
    fake.script["slow"] = Behaviour(delay_s=10)
    dead = f"http://127.0.0.1:{free_port()}/v1"
    experts: list[dict[str, Any]] = [
        {"name": "ok1", "provider": "compat", "model": "fine", "timeout_s": 5},
        {"name": "ok2", "provider": "anthropic", "model": "fine2"},
        {"name": "slow", "provider": "compat", "model": "slow", "timeout_s": 0.5},
        {"name": "down", "provider": "dead", "model": "any"},
    ]
    dead_provider = {"name": "dead", "kind": "openai_compatible", "base_url": dead, "max_retries": 0}
    settings = fake_settings(fake, experts, extra_providers=[dead_provider])
    async with circle_on(settings, FAKE_KEY) as circle:
        with anyio.fail_after(8):
            report = await circle.ask(AskRequest(question="q?"))
    by_name = {e.expert: e for e in report.experts}
    assert by_name["slow"].status is ExpertStatus.TIMEOUT
    assert by_name["down"].status is ExpertStatus.ERROR
    assert "cannot reach" in (by_name["down"].error or "")
    assert report.answered == 2
    assert report.agreement == 1.0
    assert any("slow" in n and "down" in n for n in report.notes)


async def test_cancellation_cancels_every_provider_call(fake: FakeProviders) -> None:
    experts = [{"name": f"s{i}", "provider": "compat", "model": "cancel-me"} for i in range(3)]
    fake.script["cancel-me"] = Behaviour(delay_s=20)
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                tg.start_soon(circle.ask, AskRequest(question="q?"))
                await fake.until(lambda: fake.in_flight["cancel-me"] >= 3)
                tg.cancel_scope.cancel()
            await fake.until(lambda: fake.disconnected["cancel-me"] >= 3)
    assert fake.disconnected["cancel-me"] == 3


async def test_escalation_stops_early_when_the_cheapest_agree(fake: FakeProviders) -> None:
    experts = [
        {"name": "pricey", "provider": "compat", "model": "p", "output_usd_per_mtok": 50},
        {"name": "cheap1", "provider": "compat", "model": "c1", "output_usd_per_mtok": 1},
        {"name": "cheap2", "provider": "compat", "model": "c2", "output_usd_per_mtok": 2},
        {"name": "mid", "provider": "compat", "model": "m", "output_usd_per_mtok": 10},
    ]
    fake.script.update({"c1": Behaviour(answer=YES), "c2": Behaviour(answer=YES_TOO)})
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="db?", min_agreement=0.8))
    assert report.escalation is not None
    assert report.escalation.stopped_early
    assert report.escalation.asked == 2
    assert "Stopped early" in report.escalation.note
    statuses = {e.expert: e.status for e in report.experts}
    assert statuses == {
        "cheap1": ExpertStatus.OK,
        "cheap2": ExpertStatus.OK,
        "mid": ExpertStatus.NOT_ASKED,
        "pricey": ExpertStatus.NOT_ASKED,
    }
    assert not fake.calls("p") and not fake.calls("m")


async def test_escalation_adds_experts_while_agreement_is_low(fake: FakeProviders) -> None:
    experts = [
        {"name": "a", "provider": "compat", "model": "a", "output_usd_per_mtok": 1},
        {"name": "b", "provider": "compat", "model": "b", "output_usd_per_mtok": 2},
        {"name": "c", "provider": "compat", "model": "c", "output_usd_per_mtok": 3},
        {"name": "d", "provider": "compat", "model": "d", "output_usd_per_mtok": 4},
    ]
    fake.script.update(
        {"a": Behaviour(answer=YES), "b": Behaviour(answer=NO), "c": Behaviour(answer=YES_TOO)}
    )
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="db?", min_agreement=0.6))
    assert report.escalation is not None
    assert report.escalation.asked == 3  # a/b disagree -> c breaks the tie at 2/3
    assert report.escalation.stopped_early
    assert report.consensus_verdict == "Postgres"


async def test_escalation_that_never_reaches_agreement_says_so(fake: FakeProviders) -> None:
    experts = [{"name": n, "provider": "compat", "model": n} for n in ("a", "b")]
    fake.script.update({"a": Behaviour(answer=YES), "b": Behaviour(answer=NO)})
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="db?", min_agreement=0.9))
    assert report.escalation is not None
    assert not report.escalation.stopped_early
    assert "stayed below" in report.escalation.note


def judging(answer: str, *, agrees_with: tuple[str, ...]) -> Behaviour:
    """An expert that answers `answer`, and as a judge names the labels whose answer holds one of
    `agrees_with` (read from the anonymised answers the judge prompt shows): a judge that really
    compares conclusions, whatever the labels' rotation."""

    def respond(body: dict[str, Any]) -> str:
        prompt = str(body["messages"][-1]["content"])
        if "Which of the other answers" not in prompt:
            return answer
        shown = re.findall(r"\[([A-Z]+)\]\n(.*?)(?=\n\n\[|\n\nWhich)", prompt, re.S)
        same = [label for label, text in shown if any(mark in text for mark in agrees_with)]
        return f"I compared the conclusions.\nSAME: {', '.join(same) or 'none'}"

    return Behaviour(respond=respond)


async def test_judge_round_groups_by_conclusion_not_wording(fake: FakeProviders) -> None:
    # Same conclusion in different words, no readable verdict lines: only the judges can tell.
    relational = ("Relational storage wins", "a SQL database")
    fake.script.update(
        {
            "j1": judging("Relational storage wins for this workload.", agrees_with=relational),
            "j2": judging("I'd pick a SQL database since joins dominate.", agrees_with=relational),
            "j3": judging(
                "Documents without schema: choose a document store.", agrees_with=("document store",)
            ),
        }
    )
    experts = [{"name": n, "provider": "compat", "model": n} for n in ("j1", "j2", "j3")]
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="db?", judge=True))
    assert report.judge is not None
    assert report.signal == "agreement"
    names = report.judge.experts
    matrix = {(a, b): report.judge.matrix[i][j] for i, a in enumerate(names) for j, b in enumerate(names)}
    assert matrix["j1", "j2"] == 1.0  # both judges say the other reaches their conclusion
    assert matrix["j1", "j3"] == matrix["j2", "j3"] == 0.0
    assert not report.judge.judges_failed
    clusters = [sorted(c.members) for c in report.clusters]
    assert ["j1", "j2"] in clusters and ["j3"] in clusters
    judge_calls = [s for s in fake.calls(path_part="chat") if "Which of the other answers" in str(s.body)]
    assert len(judge_calls) == 3
    by_name = {e.expert: e for e in report.experts}
    assert by_name["j1"].input_tokens == 40  # answer + judge round, both counted


async def test_unreadable_judges_are_listed_and_their_pair_falls_back_to_verdicts(
    fake: FakeProviders,
) -> None:
    fake.script.update(
        {
            "k1": Behaviour(answer=YES),  # no SAME line: this judge cannot be read
            "k2": Behaviour(answer=YES_TOO),  # nor this one
            "k3": Behaviour(answer=NO + "\nSAME: none"),
        }
    )
    experts = [{"name": n, "provider": "compat", "model": n} for n in ("k1", "k2", "k3")]
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="db?", judge=True))
    assert report.judge is not None
    assert report.judge.experts == ["k1", "k2", "k3"]
    assert report.judge.judges_failed == ["k1", "k2"]
    matrix = report.judge.matrix
    assert matrix[0][2] == matrix[1][2] == 0.0  # only k3 judged these pairs: "none of them"
    assert matrix[0][1] == 1.0  # neither judged: both verdicts say Postgres
    by_name = {e.expert: e for e in report.experts}
    assert by_name["k1"].input_tokens == 40  # a failed judgement still costs its call


async def test_peer_ranking_scores_partial_rankings_and_skips_unreadable_ones(fake: FakeProviders) -> None:
    # Labels are rotated per ranker: r1 sees A=r2 B=r3 C=r4, r3 sees A=r4 B=r1 C=r2, r4 sees A=r1 B=r2 C=r3.
    fake.script.update(
        {
            "r1": Behaviour(answer="Fine.\nVERDICT: approve\nRANKING: A"),  # partial: r3, r4 share 0.25
            "r2": Behaviour(answer="Fine.\nVERDICT: approve"),  # no ranking: not counted
            "r3": Behaviour(answer="Fine.\nVERDICT: approve\nRANKING: A > B > C"),
            "r4": Behaviour(answer="Fine.\nVERDICT: approve\nRANKING: A > B > C"),
        }
    )
    experts = [{"name": n, "provider": "compat", "model": n} for n in ("r1", "r2", "r3", "r4")]
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await review(circle, ReviewRequest(content="x = 1", peer_ranking=True))
    assert report.peer_ranking is not None
    ranks = {r.expert: (r.rankers, r.mean_score, r.weight) for r in report.peer_ranking}
    assert ranks == {
        "r1": (2, 0.75, 1.25),
        "r2": (3, 0.5, 1.0),
        "r3": (2, 0.125, 0.625),
        "r4": (2, 0.625, 1.125),
    }


async def test_no_answers_at_all_is_reported_not_raised(fake: FakeProviders) -> None:
    fake.script["x"] = Behaviour(failures=[500])
    async with circle_on(
        fake_settings(fake, [{"name": "x", "provider": "compat", "model": "x"}]), FAKE_KEY
    ) as c:
        report = await c.ask(AskRequest(question="q?"))
    assert report.answered == 0
    assert report.consensus_answer is None
    assert report.signal == "none"


async def test_unknown_expert_names_are_refused_with_the_known_ones(fake: FakeProviders) -> None:
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        with pytest.raises(InvalidArgument, match="unknown experts: nobody; configured: claude, gemini, gpt"):
            await circle.ask(AskRequest(question="q?", experts=["nobody"]))


@pytest.mark.parametrize(
    ("question", "message"),
    [("   ", "empty"), ("x" * 20001, "over the limit"), ("a\x00b", "NUL")],
)
async def test_hostile_questions_are_refused(fake: FakeProviders, question: str, message: str) -> None:
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        with pytest.raises(InvalidArgument, match=message):
            await circle.ask(AskRequest(question=question))
    assert not fake.seen


async def test_vote_tallies_margin_and_kappa(fake: FakeProviders) -> None:
    fake.script.update(
        {
            "v1": Behaviour(answer="Fast.\nCHOICE: Redis"),
            "v2": Behaviour(answer='{"choice": "Redis", "reason": "r", "confidence": 0.5}'),
            "v3": Behaviour(answer="CHOICE: 1"),
            "v4": Behaviour(answer="No idea."),
        }
    )
    experts = [{"name": n, "provider": "compat", "model": n} for n in ("v1", "v2", "v3", "v4")]
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        result = await vote(circle, VoteRequest(question="cache?", options=["Postgres", "Redis"]))
    assert result.winner == "Redis"
    assert [(t.option, t.votes) for t in result.tallies] == [("Redis", 2), ("Postgres", 1)]
    assert result.margin == pytest.approx(1 / 3, abs=1e-3)
    assert result.abstained == ["v4"]
    assert result.kappa == pytest.approx(-0.5)  # one question, a 2:1 split: worse than its own chance


async def test_vote_refuses_bad_options(fake: FakeProviders) -> None:
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        with pytest.raises(InvalidArgument, match="distinct"):
            await vote(circle, VoteRequest(question="q", options=["a", "A"]))
        with pytest.raises(InvalidArgument, match="between 2"):
            await vote(circle, VoteRequest(question="q", options=["a"]))


async def test_review_with_stances_and_peer_ranking(fake: FakeProviders) -> None:
    fake.script.update(
        {
            "r1": Behaviour(answer="SQL injection in line 3.\nVERDICT: reject\nRANKING: A > B"),
            "r2": Behaviour(answer="SQL injection; use parameters.\nVERDICT: reject\nRANKING: B > A"),
            "r3": Behaviour(answer="Looks fine.\nVERDICT: approve\nRANKING: A > B"),
        }
    )
    experts = [{"name": n, "provider": "compat", "model": n} for n in ("r1", "r2", "r3")]
    request = ReviewRequest(
        content="q = 'SELECT * FROM t WHERE id=' + user_id",
        focus="security",
        stances=["for", "against"],
        peer_ranking=True,
    )
    async with circle_on(fake_settings(fake, experts), FAKE_KEY) as circle:
        report = await review(circle, request)
    assert [e.stance for e in report.experts] == ["for", "against", "for"]
    systems = [
        s.body["messages"][0]["content"] for s in fake.calls(path_part="chat") if "<content>" in str(s.body)
    ]
    assert sum("FOR the content" in s for s in systems) == 2
    assert sum("AGAINST the content" in s for s in systems) == 1
    assert report.peer_ranking is not None
    assert len(report.peer_ranking) == 3
    assert all(0.5 <= r.weight <= 1.5 for r in report.peer_ranking)
    assert report.consensus_verdict == "reject"
    assert any("peer ranking" in n for n in report.notes)


async def test_nothing_configured_says_exactly_what_to_configure(fake: FakeProviders) -> None:
    settings = fake_settings(fake, [], local_probe_url=f"http://127.0.0.1:{free_port()}/v1")
    roster = Roster(settings, environ={})
    try:
        with pytest.raises(ToolFailure) as refused:
            await roster.ensure_experts()
    finally:
        await roster.aclose()
    assert str(refused.value) == SETUP_HINT
    assert "[[experts.providers]]" in SETUP_HINT and "11434" in SETUP_HINT


async def test_a_local_openai_compatible_server_is_offered_when_nothing_is_configured() -> None:
    with fake_providers() as local:  # a keyless local server, like Ollama
        local.script["tiny-llm"] = Behaviour(answer=YES)
        settings = fake_settings(local, [], local_probe_url=local.openai_url)
        async with circle_on(settings, FAKE_KEY) as circle:
            report = await circle.ask(AskRequest(question="db?"))
            roster = circle.roster.describe()
        temperatures = sorted(s.body["temperature"] for s in local.calls("tiny-llm", "chat"))
    assert roster.source == "local"
    assert [e.name for e in roster.experts] == ["local-1", "local-2", "local-3"]
    assert report.answered == 3
    assert temperatures == [0.2, 0.7, 1.0]


async def test_keys_never_appear_in_reports_or_logs(
    fake: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "plainWRONGKEY999999999999"
    async with circle_on(fake_settings(fake, THREE), wrong) as circle:
        report = await circle.ask(AskRequest(question="q?"))
        roster = circle.roster.describe()
    assert all(e.status is ExpertStatus.ERROR for e in report.experts)
    assert all("401" in (e.error or "") for e in report.experts)
    dumped = report.model_dump_json() + roster.model_dump_json()
    assert wrong not in dumped
    assert wrong not in caplog.text
    assert all(p.key_configured for p in roster.providers)


async def test_embeddings_feed_the_consensus_when_no_verdicts_are_stated(fake: FakeProviders) -> None:
    answers = {
        "e1": "Use a relational database for this.",
        "e2": "A SQL store is the right call here.",
        "e3": "Pick a document database instead.",
    }
    for model, text in answers.items():
        fake.script[model] = Behaviour(answer=text)
    fake.script[answers["e1"]] = Behaviour(embedding=[1.0, 0.0, 0.1])
    fake.script[answers["e2"]] = Behaviour(embedding=[0.98, 0.05, 0.1])
    fake.script[answers["e3"]] = Behaviour(embedding=[0.0, 1.0, 0.0])
    experts = [{"name": n, "provider": "compat", "model": n} for n in answers]
    settings = fake_settings(
        fake, experts, embeddings={"provider": "compat", "model": "embedder"}, verdict_follow_up=False
    )
    async with circle_on(settings, FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="db?"))
    assert report.signal == "embeddings"
    assert sorted(report.clusters[0].members) == ["e1", "e2"]
    [embedding_call] = fake.calls("embedder", "embeddings")
    assert embedding_call.body["input"] == list(answers.values())


async def test_failing_embeddings_fall_back_to_text_and_say_so(fake: FakeProviders) -> None:
    fake.script["embedder"] = Behaviour(failures=[400])
    experts = [{"name": n, "provider": "compat", "model": n} for n in ("a", "b")]
    for model in ("a", "b"):
        fake.script[model] = Behaviour(answer="Some answer without a verdict line.")
    settings = fake_settings(
        fake, experts, embeddings={"provider": "compat", "model": "embedder"}, verdict_follow_up=False
    )
    async with circle_on(settings, FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="db?"))
    assert report.signal == "text"
    assert any("Embeddings unavailable" in n for n in report.notes)
    assert report.grouping is not None and report.grouping.basis == "wording"
    assert report.grouping.level == "low"
    assert any("from the wording of the answers alone and are low-confidence" in n for n in report.notes)


async def test_verdicts_that_share_a_verb_still_split_by_conclusion(fake: FakeProviders) -> None:
    fake.script.update(
        {
            "claude-1": Behaviour(answer=YES.replace("VERDICT: Postgres", "VERDICT: use Postgres")),
            "gemini-1": Behaviour(answer=YES_TOO.replace("VERDICT: Postgres", "VERDICT: use Postgres")),
            "gpt-1": Behaviour(answer=NO.replace("VERDICT: MongoDB", "VERDICT: use MongoDB")),
        }
    )
    async with circle_on(fake_settings(fake, THREE), FAKE_KEY) as circle:
        report = await circle.ask(AskRequest(question="Which database?"))
    assert [sorted(c.members) for c in report.clusters] == [["claude", "gemini"], ["gpt"]]
