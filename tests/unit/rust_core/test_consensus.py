"""Consensus through the Python binding: outputs, signals, quality on the labelled set, hostile inputs."""

from __future__ import annotations

import math
import statistics

import pytest

import rust_core
from rust_core import consensus, fleiss_kappa, text_similarity
from tests.unit.rust_core.labelled import adjusted_rand_index, labels_of, load_groups, split

NEAR_COPIES = [
    "The cache is disposable and rebuilt from the database, so a Deployment is adequate here.",
    "The cache is disposable and can be rebuilt, so a single-replica Deployment is adequate.",
    "The cache is not disposable because sessions live only there, so a Deployment is not adequate.",
]


def partition(report: rust_core.ConsensusReport) -> set[frozenset[int]]:
    return {frozenset(c.members) for c in report.clusters}


def test_no_answers() -> None:
    r = consensus([])
    assert (r.consensus, r.agreement, r.entropy, r.clusters, r.similarity) == (None, 0.0, 0.0, [], [])
    assert r.signal == "text"


def test_one_answer() -> None:
    r = consensus(["Use a Deployment."])
    assert (r.consensus, r.agreement, r.entropy) == (0, 1.0, 0.0)
    assert r.similarity == [[1.0]]
    assert r.key_points == [] and r.dissent == []


def test_identical_answers_agree_fully() -> None:
    r = consensus(["Scale out to three replicas behind the load balancer."] * 5)
    assert len(r.clusters) == 1
    assert (r.agreement, r.entropy) == (1.0, 0.0)
    assert r.key_points[0].supporters == [0, 1, 2, 3, 4]


def test_empty_and_punctuation_only_answers() -> None:
    r = consensus(["", "", "?!", "Use a Deployment for the stateless API."])
    assert partition(r) == {frozenset({0, 1}), frozenset({2}), frozenset({3})}
    assert r.consensus in (0, 1)


def test_negation_separates_near_copies() -> None:
    r = consensus(NEAR_COPIES)
    assert partition(r) == {frozenset({0, 1}), frozenset({2})}
    assert r.agreement == pytest.approx(2 / 3)
    assert r.entropy == pytest.approx(-(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3))
    assert r.consensus in (0, 1)
    assert text_similarity(NEAR_COPIES[0], NEAR_COPIES[2]) < text_similarity(NEAR_COPIES[0], NEAR_COPIES[1])


def test_verdicts_drive_clustering_when_given() -> None:
    texts = ["We looked at the workload carefully and considered the options."] * 4
    verdicts = ["Yes, ship it.", "Approve.", "No, tests are red.", "Reject."]
    r = consensus(texts, verdicts=verdicts)
    assert r.signal == "verdicts"
    assert partition(r) == {frozenset({0, 1}), frozenset({2, 3})}
    assert r.threshold == pytest.approx(0.05)


def test_missing_verdict_is_unknown_and_falls_back_to_the_body() -> None:
    texts = [
        "Use a Deployment for the stateless API.",
        "Use a Deployment for the stateless API.",
        "Run Postgres on a managed service instead.",
    ]
    r = consensus(texts, verdicts=[None, "Yes.", "No."])
    assert r.similarity[0][1] == pytest.approx(1.0)  # the body decides pairs with no verdict
    assert r.similarity[1][2] == 0.0  # opposite votes never agree
    assert partition(r) == {frozenset({0, 1}), frozenset({2})}


def test_agreement_matrix_takes_precedence_and_is_symmetrised() -> None:
    matrix = [[1.0, 0.9, 0.0], [0.7, 1.0, 0.1], [0.0, 0.0, 1.0]]
    r = consensus(["a", "b", "c"], verdicts=["x", "x", "x"], agreement=matrix)
    assert r.signal == "agreement"
    assert partition(r) == {frozenset({0, 1}), frozenset({2})}
    assert r.similarity[0][1] == pytest.approx(0.8) == r.similarity[1][0]


def test_embeddings_signal() -> None:
    emb = [[1.0, 0.0], [0.99, 0.05], [0.0, 1.0], [0.0, 0.0]]
    r = consensus(["a", "b", "c", "d"], embeddings=emb)
    assert r.signal == "embeddings"
    assert partition(r) == {frozenset({0, 1}), frozenset({2}), frozenset({3})}


def test_weights_decide_the_heaviest_cluster() -> None:
    r = consensus(NEAR_COPIES, weights=[1.0, 1.0, 5.0])
    assert r.consensus == 2
    assert r.clusters[0].members == [2]
    assert r.agreement == pytest.approx(5 / 7)
    assert [c.weight for c in r.clusters] == [5.0, 2.0]


def test_medoid_is_the_most_central_member() -> None:
    emb = [[1.0, 0.0, 0.0], [0.9, 0.3, 0.0], [0.9, 0.0, 0.3], [0.8, 0.3, 0.3]]
    r = consensus(["a", "b", "c", "d"], embeddings=emb, threshold=0.5)
    assert len(r.clusters) == 1
    sums = [sum(row) for row in r.similarity]
    assert r.clusters[0].representative == sums.index(max(sums))


def test_result_does_not_depend_on_answer_order() -> None:
    group = load_groups()[0]
    forward = consensus(group.texts, verdicts=group.verdicts)
    order = list(reversed(range(len(group.texts))))
    backward = consensus([group.texts[i] for i in order], verdicts=[group.verdicts[i] for i in order])
    assert {frozenset(order[m] for m in c) for c in partition(backward)} == partition(forward)
    assert backward.agreement == forward.agreement


def test_key_points_and_dissent() -> None:
    answers = [
        "Run three replicas across zones. Put a PodDisruptionBudget on the API.",
        "Put a PodDisruptionBudget on the API. Run three replicas across zones.",
        "Run three replicas across zones. Disable the liveness probe entirely.",
        "Run three replicas across zones. Put a PodDisruptionBudget on the API.",
    ]
    r = consensus(answers)
    points = {c.text: c.supporters for c in r.key_points}
    assert points["Run three replicas across zones."] == [0, 1, 2, 3]
    assert points["Put a PodDisruptionBudget on the API."] == [0, 1, 3]
    assert [(c.text, c.supporters) for c in r.dissent] == [("Disable the liveness probe entirely.", [2])]


def test_mixed_languages_and_long_answers() -> None:
    long_answer = " ".join(f"token{i % 7000}" for i in range(100_000))
    answers = [
        "Ein Deployment ist hier nicht geeignet.",
        "Un Deployment n'est pas adapté ici.",
        "Deployment は適切です。",
        long_answer,
        "A Deployment is adequate.",
    ]
    r = consensus(answers)
    assert len(r.similarity) == 5
    assert 0.0 <= r.agreement <= 1.0


def test_fifty_answers() -> None:
    answers = [f"Answer {i}: {'use' if i % 3 else 'avoid'} a Deployment for the API." for i in range(50)]
    r = consensus(answers)
    assert sum(len(c.members) for c in r.clusters) == 50
    assert len(r.similarity) == 50 and all(len(row) == 50 for row in r.similarity)


def test_text_similarity_bounds() -> None:
    assert text_similarity("Use a Deployment.", "use a deployment") == pytest.approx(1.0)
    assert text_similarity("", "") == 1.0
    assert text_similarity("Kafka", "RabbitMQ") == 0.0
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in "DEPLOYMENT")  # NFKC folds these to ASCII
    assert text_similarity(fullwidth, "deployment") == pytest.approx(1.0)


def test_quality_on_held_out_labelled_groups() -> None:
    """Mean ARI on the held-out half with the default thresholds (chosen on the other half)."""
    _, held_out = split(load_groups())

    def mean_ari(use_verdicts: bool) -> float:
        scores = []
        for g in held_out:
            r = consensus(g.texts, verdicts=g.verdicts if use_verdicts else None)
            predicted = labels_of([c.members for c in r.clusters], len(g.texts))
            scores.append(adjusted_rand_index(g.labels, predicted))
        return statistics.mean(scores)

    assert mean_ari(use_verdicts=True) >= 0.6
    assert mean_ari(use_verdicts=True) > mean_ari(use_verdicts=False)


def test_fleiss_kappa() -> None:
    # The worked example of the Wikipedia article on Fleiss' kappa.
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    assert fleiss_kappa(counts) == pytest.approx(0.210, abs=1e-3)
    assert fleiss_kappa([[3, 0], [0, 3]]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("counts", "match"),
    [
        ([], "no subjects"),
        ([[]], "no categories"),
        ([[1, 0]], ">= 2 raters"),
        ([[2, 0], [1, 0, 1]], "ragged"),
        ([[2, 0], [2, 1]], "raters"),
        ([[2, -1]], "negative count"),
    ],
)
def test_fleiss_kappa_refuses_bad_counts(counts: list[list[int]], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fleiss_kappa(counts)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weights": [1.0, float("nan")]}, "weight 1"),
        ({"weights": [1.0, float("inf")]}, "weight 1"),
        ({"weights": [1.0, -1.0]}, "weight 1"),
        ({"weights": [0.0, 0.0]}, "sum to 0"),
        ({"weights": [1e308, 1e308]}, "infinity"),
        ({"weights": [1.0]}, "1 weights for 2 answers"),
        ({"verdicts": ["yes"]}, "1 verdicts"),
        ({"embeddings": [[1.0], [1.0, 2.0]]}, "dimension"),
        ({"embeddings": [[], []]}, "dimension >= 1"),
        ({"embeddings": [[1.0], [float("nan")]]}, "non-finite"),
        ({"agreement": [[1.0, 0.0], [1.0]]}, "2 x 2"),
        ({"agreement": [[1.0, 0.0]]}, "1 rows"),
        ({"agreement": [[1.0, float("nan")], [0.0, 1.0]]}, "in \\[0, 1\\]"),
        ({"agreement": [[1.0, 2.0], [0.0, 1.0]]}, "in \\[0, 1\\]"),
        ({"threshold": 1.5}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"threshold": -0.1}, "threshold"),
    ],
)
def test_hostile_consensus_inputs_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        consensus(["a", "b"], **kwargs)  # type: ignore[arg-type]


def test_enormous_and_invalid_text_is_refused() -> None:
    with pytest.raises(ValueError, match="at most 256"):
        consensus(["x"] * 257)
    with pytest.raises(ValueError, match="bytes of text"):
        consensus(["x" * (33 << 20), "y" * (33 << 20)])
    with pytest.raises(UnicodeEncodeError):
        consensus(["fine", "lone \ud800 surrogate"])
    with pytest.raises(UnicodeEncodeError):
        text_similarity("\udfff", "x")
    with pytest.raises(TypeError):
        consensus("not a list")  # type: ignore[arg-type]
