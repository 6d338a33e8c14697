"""Where a conclusion lands in the question's frame: options, yes/no, negation, hedges."""

from __future__ import annotations

import pytest

from servers.experts.conclusions import frame_of, option_of, place, place_body, polarity_of, refine


@pytest.mark.parametrize(
    ("question", "options"),
    [
        ("Should it run as a Deployment or a StatefulSet?", [{"deployment"}, {"statefulset"}]),
        ("Store them in PostgreSQL or in Kafka?", [{"postgresql"}, {"kafka"}]),
        ("A job runs daily. Cron on the VM, a CronJob, or a managed scheduler?",
         [{"cron", "vm"}, {"cronjob"}, {"managed", "scheduler"}]),
        ("For the mobile API, should we offer GraphQL or keep REST endpoints?",
         [{"graphql"}, {"rest", "endpoints"}]),
        ("Should the API answer 404 or 403 when a user asks for a document?", [{"404"}, {"403"}]),
        ("Helm vs Kustomize for our charts?", [{"helm"}, {"kustomize", "charts"}]),
    ],
)  # fmt: skip
def test_the_options_of_an_either_or_question(question: str, options: list[set[str]]) -> None:
    frame = frame_of(question)
    assert frame.is_choice
    assert [set(o) for o in frame.options] == options


def test_words_of_the_rest_of_the_question_are_topic_not_options() -> None:
    frame = frame_of("Our search uses LIKE. Should we add Elasticsearch or use PostgreSQL full-text search?")
    assert [set(o) for o in frame.options] == [{"elasticsearch"}, {"postgresql", "full-text"}]


@pytest.mark.parametrize(
    ("question", "yes_no"),
    [("Should we shard the database now?", True), ("Approve the release?", True),
     ("Which broker should we adopt?", False), ("How should we deploy it?", False)],
)  # fmt: skip
def test_yes_no_and_open_questions(question: str, yes_no: bool) -> None:
    frame = frame_of(question)
    assert not frame.is_choice and frame.yes_no is yes_no


DEPLOY = frame_of("Should it run as a Deployment or a StatefulSet?")


@pytest.mark.parametrize(
    ("conclusion", "option"),
    [
        ("I'd lean towards the StatefulSet while the tiles stay on disk.", 1),
        ("probably the stateful controller, given the read-back.", 1),  # a prefix names it indirectly
        ("a StatefulSet, not a Deployment", 1),
        ("keep it a Deployment and move the tiles to shared storage", 0),
        ("I would not use a Deployment here", 1),  # rejecting one of two picks the other
        ("the ordinary workload type with surge upgrades", None),  # named too indirectly
        ("Deployment or StatefulSet, both work", None),
    ],
)
def test_the_option_a_conclusion_favours(conclusion: str, option: int | None) -> None:
    assert option_of(DEPLOY, conclusion) == option


SHARD = frame_of("Should we start sharding the database now?")


@pytest.mark.parametrize(
    ("conclusion", "polarity"),
    [
        ("yes, begin preparing for it", 1),
        ("not yet; partition and scale vertically first", -1),
        ("I would hold off for now.", -1),
        ("premature; watch write load instead", -1),
        (
            "wait; a bigger instance is enough",
            None,
        ),  # a known miss: bare "wait" is no cue (only "wait until")
        ("not worth it", -1),
        ("worth doing", 1),
        ("go ahead and measure", 1),
        ("stay on one database", -1),  # keeping what exists refuses the proposed change
        ("start sharding by tenant", 1),  # the proposal's own words, un-negated
        ("it depends on the workload", None),
    ],
)
def test_the_polarity_of_a_yes_no_conclusion(conclusion: str, polarity: int | None) -> None:
    assert polarity_of(SHARD, conclusion) == polarity


def test_keep_is_a_yes_when_the_question_proposes_keeping() -> None:
    frame = frame_of("Is it a good idea to keep sessions only in Redis?")
    assert polarity_of(frame, "keep them in Redis") == 1
    assert polarity_of(SHARD, "keep them in Redis") == -1


def test_a_body_is_placed_by_the_sentences_that_advise() -> None:
    body = (
        "Sharding brings cross-shard queries and rebalancing. Two hundred gigabytes fits one node. "
        "I would hold off. Buy a bigger instance when needed."
    )
    assert place_body(SHARD, body) == "no"
    assert place_body(SHARD, "The data grows. The team is small.") is None
    assert place(frame_of("Which broker?"), "Kafka, definitely") is None  # open question: no frame


def test_refine_sets_placed_pairs_and_keeps_the_rest() -> None:
    sim = [[1.0, 0.3, 0.3], [0.3, 1.0, 0.3], [0.3, 0.3, 1.0]]
    assert refine(sim, ["yes", "yes", None]) == [[1.0, 1.0, 0.3], [1.0, 1.0, 0.3], [0.3, 0.3, 1.0]]
    assert refine(sim, ["yes", "no", "no"])[0] == [1.0, 0.0, 0.0]
