"""Where an answer comes down, relative to the question: which option it picks, or yes / no.

Wording features measure topic: answers that disagree share the question's vocabulary, answers
that agree may share none of it. This module reads the *frame* of the question instead — the
options of an either-or question ("Helm or Kustomize?", "cron, a CronJob, or a managed
scheduler?") or the proposal of a yes/no one ("Should we shard now?") — and places each
conclusion (a stated verdict, else the body's concluding sentences) in it: the option it favours,
or its polarity. Two answers placed in the frame agree exactly when they are placed alike; answers
it cannot place keep the wording similarity. Pure functions, no I/O.

Written by hand because no maintained library does stance-towards-options for short English
texts without a model; the word lists are small, general and documented below.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def vocabulary(listed: str) -> frozenset[str]:
    """A word list written as one space-separated string."""
    return frozenset(listed.split())


_WORD = re.compile(r"[a-z0-9][a-z0-9+#.'/-]*[a-z0-9+#]|[a-z0-9]")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")

#: Function words: they carry neither an option nor a stance.
STOP = vocabulary(
    "a an the is are was were be been being am it its this that these those of to in on for with as at "
    "by from and or so if then than there here we you they i our your their my me us them he she his her "
    "will would should could can may might must shall do does did have has had just also very really "
    "quite more most some any each every all both one two three into onto via per up out about over "
    "under after before when while what which who whom whose how why where our own"
)
#: Verbs that frame a choice without being one ("use Helm", "keep REST", "run it as a Deployment").
FRAMING = vocabulary(
    "use using used run running keep stay stick go choose pick adopt offer add prefer put store make "
    "get take want need let lean"
)
#: Words that open a negation: the next few words are rejected ("not Postgres", "rather than Helm").
NEGATORS = vocabulary(
    "not no never none nothing neither nor cannot without avoid skip against instead rather "
    "premature unnecessary overkill nope reject don't doesn't isn't aren't wouldn't shouldn't won't "
    "can't couldn't didn't"
)
#: Words that say "yes" to a proposal (unless negated: "not worth it").
AFFIRM = vocabulary(
    "yes yeah yep sure worth fine acceptable ok okay adequate sufficient sensible reasonable "
    "recommended recommend absolutely definitely allow require enable approve good"
)
#: Multi-word cues, matched on the normalised text before the words are read.
PHRASES = (
    ("hold off", "premature"),
    ("wait until", "premature"),
    ("not yet", "premature"),
    ("too early", "premature"),
    ("go ahead", "yes"),
    ("go for it", "yes"),
    ("do it", "yes"),
    ("makes sense", "yes"),
    ("turn it on", "yes"),
    ("switch it on", "yes"),
)
#: "stay / keep / stick with" refuse a proposed change, unless the question proposes keeping.
STATUS_QUO = vocabulary("stay keep stick remain")
#: Sentences that state a recommendation (the rest of a body is mostly reasoning).
_CONCLUDING = re.compile(
    r"\b(i'd|i would|i'll|i will|my (advice|vote|pick|recommendation)|recommend|go with|stick with|"
    r"on balance|overall|in short|bottom line|the answer|better choice|right choice|is the right|"
    r"wins|fits)\b",
    re.IGNORECASE,
)
#: Sentences that advise rather than describe: an imperative opening, or a stance word.
_RECOMMENDING = re.compile(
    r"^(use|keep|stay|stick|go|pick|choose|start|put|move|add|turn|set|build|buy|run|skip|avoid|wait|"
    r"don't|do not|never|let|make|try|invest|adopt|enable|switch|migrate|leave|revisit|fix)\b|"
    r"\b(hold off|not worth|worth it|worth the|premature|too early|not yet|overkill|i wouldn't|"
    r"we should|you should|should not|shouldn't)\b",
    re.IGNORECASE,
)
_NEGATION_REACH = 4  # words a negator governs
_PREMATURE = "premature"  # what "hold off", "not yet", "wait until" ... become
_AUX = r"(should|shall|do|does|is|are|can|could|would|will|must)"
_LEADING_AUX = re.compile(
    "^" + _AUX + r"\s+(we|i|you|it|they|the \w+|our \w+|this|that)?\s*",
    re.IGNORECASE,
)
_INNER_AUX = re.compile(r",\s+(" + _AUX + r"\s)", re.IGNORECASE)
_OPEN_QUESTION = re.compile(r"^(which|what|how|where|who|whom|whose|when|why)\b", re.IGNORECASE)
_CLAUSE_END = re.compile(
    r"\s+(when|if|because|while|since|given|so that|for the|for our)\s+|,\s+", re.IGNORECASE
)
_LEADING_FUNCTION = vocabulary("a an the in on with to as by for from at into via using")


def words(text: str) -> list[str]:
    """Lower-cased words of a text (apostrophes kept: "don't", "provider's")."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def _stem(word: str) -> str:
    return word.removesuffix("'s")


def _matches(token: str, option_word: str) -> int:
    """2 for the same word, 1 when one is a prefix of the other (≥ 5 letters: "stateful" /
    "statefulset", "replicas" / "replica"), else 0."""
    if token == option_word:
        return 2
    short, long = sorted((token, option_word), key=len)
    return 1 if len(short) >= 5 and long.startswith(short) else 0


@dataclass(frozen=True, slots=True)
class Frame:
    """The question's frame: its options (an either-or question) or its proposal (yes/no)."""

    options: tuple[frozenset[str], ...]
    proposal: frozenset[str]
    proposes_status_quo: bool
    yes_no: bool

    @property
    def is_choice(self) -> bool:
        return len(self.options) >= 2


def frame_of(question: str) -> Frame:
    """The frame of a question: options from "X or Y", "X, Y, or Z", "X vs Y", else a proposal."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", question.strip()) if s]
    last = sentences[-1] if sentences else question
    clause = last.rsplit(":", 1)[-1].strip().rstrip("?. ")
    # "For the mobile API, should we offer GraphQL or keep REST?": the question starts at its verb.
    opening = _INNER_AUX.search(clause)
    if opening:
        clause = clause[opening.start(1) :]
    yes_no = not _OPEN_QUESTION.match(clause)
    clause = _LEADING_AUX.sub("", clause)
    proposal_words = [w for w in words(last) if w not in STOP and w not in FRAMING]
    status_quo = any(w in STATUS_QUO for w in words(last))
    parts = _split_options(clause)
    options = _distinctive([words(p) for p in parts]) if len(parts) >= 2 else ()
    # Words the rest of the question uses too are its topic, not an option ("search" in "Our search
    # feature ... Elasticsearch or PostgreSQL full-text search?"), unless nothing else is left.
    context = {_stem(w) for s in sentences[:-1] for w in words(s)}
    options = tuple(o - context or o for o in options)
    if len(options) < 2 or any(not o for o in options):
        options = ()
    return Frame(
        options=options, proposal=frozenset(proposal_words), proposes_status_quo=status_quo, yes_no=yes_no
    )


def _split_options(clause: str) -> list[str]:
    for separator in (r"\s+vs\.?\s+", r"\s+versus\s+"):
        parts = re.split(separator, clause, flags=re.IGNORECASE)
        if len(parts) >= 2:
            return [p.strip() for p in parts]
    between = re.search(r"\bbetween\s+(.+?)\s+and\s+(.+)$", clause, re.IGNORECASE)
    if between:
        return [between.group(1), between.group(2)]
    head, sep, tail = clause.rpartition(" or ")
    if not sep:
        return []
    tail = _CLAUSE_END.split(tail, maxsplit=1)[0].strip()
    items = [i.strip() for i in re.split(r",\s*", head) if i.strip()] + [tail]
    items[-1] = items[-1].removeprefix("or ").strip()
    first_words = items[-1].split()
    left = items[-2].split() if len(items) >= 2 else []
    # Cut the first option to the right one's shape: "run as a Deployment" / "a StatefulSet".
    if first_words and first_words[0].lower() in _LEADING_FUNCTION:
        lowered = [w.lower() for w in left]
        if first_words[0].lower() in lowered:
            cut = len(lowered) - 1 - lowered[::-1].index(first_words[0].lower())
            left = left[cut:]
    elif len(items) == 2 and len(first_words) < len(left) and len(first_words) <= 2:
        left = left[-len(first_words) :]
    if len(items) >= 2:
        items[-2] = " ".join(left)
    return items


def _distinctive(option_words: list[list[str]]) -> tuple[frozenset[str], ...]:
    """Each option's own words: no function or framing words, none shared with another option."""
    content = [{_stem(w) for w in ws if w not in STOP and w not in FRAMING} for ws in option_words]
    shared = {w for i, c in enumerate(content) for w in c if any(w in d for d in content[i + 1 :])}
    return tuple(frozenset(c - shared) for c in content)


def _cues(text: str) -> list[str]:
    normalised = " ".join(words(text))
    for phrase, cue in PHRASES:
        normalised = normalised.replace(phrase, cue)
    return normalised.split()


def option_of(frame: Frame, text: str) -> int | None:
    """The option a conclusion favours: mentions count +1, negated mentions -1; the best unique
    positive score wins; with two options, rejecting one picks the other. None when undecided."""
    if not frame.is_choice:
        return None
    scores = [0.0] * len(frame.options)
    mentioned = [False] * len(frame.options)
    negated_until = -1
    for position, word in enumerate(_cues(text)):
        if word in NEGATORS or word == _PREMATURE:
            negated_until = position + _NEGATION_REACH
            continue
        if word in ("but", "however", "though", "although", "yet"):
            negated_until = -1
        best, hit = 0, None
        for index, option in enumerate(frame.options):
            for option_word in option:
                quality = _matches(_stem(word), option_word)
                if quality > best:
                    best, hit = quality, index
        if hit is None:
            continue
        mentioned[hit] = True
        scores[hit] += -1.0 if position <= negated_until else 1.0
    top = max(scores)
    if top > 0 and scores.count(top) == 1:
        return scores.index(top)
    rejected = [i for i, s in enumerate(scores) if s < 0]
    if len(frame.options) == 2 and len(rejected) == 1 and not mentioned[1 - rejected[0]]:
        return 1 - rejected[0]
    return None


def polarity_of(frame: Frame, text: str) -> int | None:
    """+1 (yes to the proposal) or -1 (no) from the first stance cue of a conclusion; None if none.

    A negator before an affirmation ("not worth it") is a no; "stay / keep" refuse a change the
    question proposes; with no cue at all, naming the proposal's own words un-negated is a yes.
    """
    tokens = _cues(text)
    for position, word in enumerate(tokens):
        if word == _PREMATURE:
            return -1
        if word in NEGATORS:
            following = tokens[position + 1 : position + 1 + _NEGATION_REACH]
            # "no doubt", "not only": too rare to model; a negator is a no.
            return -1 if not any(t in NEGATORS for t in following[:1]) else 1
        if word in AFFIRM:
            return 1
        if word in STATUS_QUO and not frame.proposes_status_quo:
            return -1
    if any(_stem(t) in frame.proposal for t in tokens):
        return 1
    return None


def place_body(frame: Frame, body: str) -> str | None:
    """Where a body without a verdict lands: each sentence that advises or concludes votes for
    its place (the last sentence when none does); with options, a body whose advice names none
    is placed by all its sentences together. None on a tie or when nothing is placed."""
    sentences = [s.strip() for s in _SENTENCE.split(body.strip()) if s.strip()]
    advice = [s for s in sentences if _CONCLUDING.search(s) or _RECOMMENDING.search(s)] or sentences[-1:]
    votes: dict[str, int] = {}
    for sentence in advice:
        placed = place(frame, sentence)
        if placed is not None:
            votes[placed] = votes.get(placed, 0) + 1
    if frame.is_choice and not votes:
        whole = place(frame, body)
        if whole is not None:
            votes[whole] = 1
    if not votes:
        return None
    top = max(votes.values())
    best = [p for p, v in votes.items() if v == top]
    return best[0] if len(best) == 1 else None


def place(frame: Frame, conclusion: str) -> str | None:
    """A conclusion's place in the frame ("option:1", "yes", "no"), or None when undecided."""
    if frame.is_choice:
        picked = option_of(frame, conclusion)
        return None if picked is None else f"option:{picked}"
    if not frame.yes_no:
        return None
    polarity = polarity_of(frame, conclusion)
    return None if polarity is None else ("yes" if polarity > 0 else "no")


def refine(similarity: list[list[float]], places: list[str | None]) -> list[list[float]]:
    """The similarity with every pair of placed conclusions set to 1 (same place) or 0."""
    n = len(similarity)
    out = [row[:] for row in similarity]
    for i in range(n):
        for j in range(i + 1, n):
            if places[i] is not None and places[j] is not None:
                out[i][j] = out[j][i] = 1.0 if places[i] == places[j] else 0.0
    return out


__all__ = ["Frame", "frame_of", "option_of", "place", "place_body", "polarity_of", "refine"]
