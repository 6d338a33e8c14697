"""What the experts are asked, and lenient parsing of what they answer.

Every answer ends with a one-line verdict and a confidence: as JSON where the provider supports
structured output, else as a strict final line. Small or chatty models break both formats, so the
parsers accept JSON in code fences, `Verdict - …`, percentages, words like "high", and fall back to
the last sentence rather than failing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

ParseFormat = Literal["json", "line", "follow_up", "fallback"]
Stance = Literal["for", "against", "neutral"]

#: Formats of a verdict the expert stated itself (a fallback "last sentence" is shown, not trusted).
STATED_FORMATS: frozenset[str] = frozenset({"json", "line", "follow_up"})

DEFAULT_SYSTEM = (
    "You are one expert in a panel consulted independently on the same question. "
    "Answer precisely and say what you are unsure of."
)

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": "string", "description": "the full answer"},
        "verdict": {"type": "string", "description": "the conclusion in one line"},
        "confidence": {"type": "number", "description": "0.0 to 1.0"},
    },
    "required": ["answer", "verdict", "confidence"],
    "additionalProperties": False,
}

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"same": {"type": "array", "items": {"type": "string"}}},
    "required": ["same"],
    "additionalProperties": False,
}

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string", "description": "the conclusion in one line"}},
    "required": ["verdict"],
    "additionalProperties": False,
}

RANKING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ranking": {"type": "array", "items": {"type": "string"}}},
    "required": ["ranking"],
    "additionalProperties": False,
}

_STANCE_TEXT: dict[str, str] = {
    "for": "Argue the strongest case FOR the content: its merits and why its risks are manageable.",
    "against": "Argue the strongest case AGAINST the content: its flaws, risks and what breaks.",
    "neutral": "Weigh the content neutrally, strengths and weaknesses alike.",
}

_CONFIDENCE_WORDS = {
    "very high": 0.9,
    "high": 0.8,
    "medium": 0.5,
    "moderate": 0.5,
    "low": 0.2,
    "very low": 0.1,
}


@dataclass(frozen=True, slots=True)
class ParsedAnswer:
    answer: str
    verdict: str | None
    confidence: float | None
    format: ParseFormat


# --- prompts -------------------------------------------------------------------------------------


def answer_prompt(
    question: str,
    context: str | None,
    *,
    structured: bool,
    files: str | None = None,
    history: str | None = None,
) -> str:
    parts = [history] if history else []
    parts.append(f"Question:\n{question.strip()}")
    if context:
        parts.append(f"Context:\n{context.strip()}")
    if files:
        parts.append(files)
    if structured:
        parts.append(
            "Reply as JSON with `answer` (your full answer), `verdict` (your conclusion in one line) "
            "and `confidence` (0.0 to 1.0)."
        )
    else:
        parts.append(
            "Answer the question. Then end with exactly one final line in this format:\n"
            "VERDICT: <your conclusion in one line> | CONFIDENCE: <a number from 0.0 to 1.0>"
        )
    return "\n\n".join(parts)


def verdict_prompt(question: str, answer: str, *, structured: bool) -> str:
    """The cheap follow-up for an answer that stated no verdict: its conclusion, in one line."""
    parts = [
        f"Question:\n{question.strip()}",
        f"Your answer was:\n{answer}",
        "State your conclusion in one line. Name your choice plainly, in the question's own terms; "
        "for a yes/no question begin with yes or no.",
    ]
    if structured:
        parts.append("Reply as JSON with `verdict`.")
    else:
        parts.append("Reply with exactly one line:\nVERDICT: <your conclusion in one line>")
    return "\n\n".join(parts)


def parse_follow_up(text: str) -> str | None:
    """The verdict of a follow-up reply: a JSON `verdict` or a VERDICT line, else a reply of one
    short line (all it was asked for); None for anything longer."""
    parsed = parse_answer(text)
    if parsed.format in ("json", "line"):
        return parsed.verdict
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) == 1 and len(lines[0]) <= 300:
        return _one_line(lines[0]) or None
    return None


def review_prompt(content: str, focus: str | None, *, structured: bool) -> str:
    focus_text = f" Focus on: {focus.strip()}." if focus else ""
    question = (
        "Review the content below. List the most important problems first, each with why it matters "
        f"and a fix.{focus_text} Your verdict is one of: approve, approve with changes, reject."
    )
    return answer_prompt(question, f"<content>\n{content}\n</content>", structured=structured)


def stance_system(base: str | None, stance: Stance | None) -> str:
    system = base or DEFAULT_SYSTEM
    if stance is not None:
        system = f"{system}\n{_STANCE_TEXT[stance]}"
    return system


def vote_prompt(question: str, options: list[str], *, structured: bool) -> str:
    listed = "\n".join(f"{i}. {option}" for i, option in enumerate(options, start=1))
    parts = [f"Question:\n{question.strip()}", f"Options:\n{listed}", "Choose exactly one option."]
    if structured:
        parts.append("Reply as JSON with `choice` (the option text, verbatim), `reason` and `confidence`.")
    else:
        parts.append("Give a short reason, then end with exactly one final line:\nCHOICE: <option text>")
    return "\n\n".join(parts)


def vote_schema(options: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "choice": {"type": "string", "enum": options},
            "reason": {"type": "string"},
            "confidence": {"type": "number"},
        },
        "required": ["choice", "reason", "confidence"],
        "additionalProperties": False,
    }


def judge_prompt(own: str, others: list[tuple[str, str]], *, structured: bool) -> str:
    listed = "\n\n".join(f"[{label}]\n{text}" for label, text in others)
    parts = [
        f"Your answer was:\n{own}",
        f"Other experts answered (anonymised):\n\n{listed}",
        "Which of the other answers reach the same conclusion as yours? Judge the conclusion, not "
        "the wording or the topic.",
    ]
    if structured:
        parts.append("Reply as JSON with `same`: the list of labels that agree with you (may be empty).")
    else:
        parts.append("End with exactly one final line:\nSAME: <labels, comma separated, or none>")
    return "\n\n".join(parts)


def ranking_prompt(reviews: list[tuple[str, str]], *, structured: bool) -> str:
    listed = "\n\n".join(f"[{label}]\n{text}" for label, text in reviews)
    parts = [
        f"Here are anonymised reviews of the same content:\n\n{listed}",
        "Rank them from most to least accurate and useful.",
    ]
    if structured:
        parts.append("Reply as JSON with `ranking`: the labels, best first.")
    else:
        parts.append("End with exactly one final line:\nRANKING: <labels, best first, separated by >>")
    return "\n\n".join(parts)


def labels(n: int) -> list[str]:
    """Anonymous labels A, B, …, Z, AA, AB, …"""
    out: list[str] = []
    for i in range(n):
        label = ""
        i += 1
        while i:
            i, rem = divmod(i - 1, 26)
            label = chr(65 + rem) + label
        out.append(label)
    return out


# --- parsing -------------------------------------------------------------------------------------

_VERDICT_LINE = re.compile(
    r"^\W*(?:final\s+)?verdict\s*[:=\-\u2013]\s*(?P<rest>.+)$", re.IGNORECASE | re.MULTILINE
)
_CONFIDENCE = re.compile(
    r"confidence\s*[:=\-\u2013]?\s*(?P<value>\d+(?:\.\d+)?\s*%?|very high|very low|high|medium|moderate|low)",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def parse_confidence(raw: str | float | int | None) -> float | None:
    """0..1 from 0.85, "85%", "85", "high"; None if unreadable."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        value = float(raw)
    else:
        text = raw.strip().lower()
        if text in _CONFIDENCE_WORDS:
            return _CONFIDENCE_WORDS[text]
        percent = text.endswith("%")
        try:
            value = float(text.rstrip("%").strip())
        except ValueError:
            return None
        if percent:
            value /= 100
    if value > 1.0:
        value /= 100  # "85" almost always means 85 %
    if not 0.0 <= value <= 1.0:
        return None
    return round(value, 4)


def find_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in a text (bare, or inside a code fence); None if there is none."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        start = candidate.find("{")
        while start != -1:
            try:
                value, _ = decoder.raw_decode(candidate, start)
            except json.JSONDecodeError:
                start = candidate.find("{", start + 1)
                continue
            if isinstance(value, dict):
                return value
            start = candidate.find("{", start + 1)
    return None


def parse_answer(text: str) -> ParsedAnswer:
    """Answer, verdict and confidence from whatever the model wrote."""
    data = find_json_object(text)
    if data is not None and ("verdict" in data or "answer" in data):
        verdict = data.get("verdict")
        answer = data.get("answer")
        return ParsedAnswer(
            answer=str(answer or verdict or "").strip(),
            verdict=_one_line(str(verdict)) if verdict else None,
            confidence=parse_confidence(data.get("confidence")),
            format="json",
        )
    matches = list(_VERDICT_LINE.finditer(text))
    if matches:
        match = matches[-1]
        rest = match.group("rest")
        confidence_match = _CONFIDENCE.search(rest) or _CONFIDENCE.search(text[match.end() :])
        verdict = re.split(r"\|\s*|\(?\s*confidence\b", rest, maxsplit=1, flags=re.IGNORECASE)[0]
        answer = (text[: match.start()] + text[match.end() :]).strip()
        answer = _CONFIDENCE_LINE.sub("", answer).strip()
        return ParsedAnswer(
            answer=answer or verdict.strip(),
            verdict=_one_line(verdict) or None,
            confidence=parse_confidence(confidence_match.group("value")) if confidence_match else None,
            format="line",
        )
    confidence_match = _CONFIDENCE.search(text)
    stripped = _CONFIDENCE_LINE.sub("", text).strip()
    return ParsedAnswer(
        answer=stripped,
        verdict=_last_sentence(stripped),
        confidence=parse_confidence(confidence_match.group("value")) if confidence_match else None,
        format="fallback",
    )


_CONFIDENCE_LINE = re.compile(r"^\W*confidence\s*[:=\-\u2013].*$", re.IGNORECASE | re.MULTILINE)
_LABEL_LINE = re.compile(
    r"^\W*(?P<key>same|ranking|choice)\s*[:=\-\u2013]\s*(?P<rest>.*)$", re.IGNORECASE | re.MULTILINE
)


def parse_labels(text: str, key: Literal["same", "ranking"], known: list[str]) -> list[str] | None:
    """The labels an expert named (in its order, deduplicated, only known ones); None if unreadable."""
    data = find_json_object(text)
    raw: list[str] | None = None
    if data is not None and isinstance(data.get(key), list):
        raw = [str(x) for x in data[key]]
    else:
        lines = [m for m in _LABEL_LINE.finditer(text) if m.group("key").lower() == key]
        if not lines:
            return None
        rest = lines[-1].group("rest")
        if key == "same" and re.fullmatch(r"\W*(none|nobody|no one|n/?a)?\W*", rest, re.IGNORECASE):
            return []
        raw = re.findall(r"\b[A-Z]{1,2}\b", rest.upper())
    known_set = set(known)
    out: list[str] = []
    for item in raw:
        label = item.strip().strip("[]()").upper()
        if label in known_set and label not in out:
            out.append(label)
    return out


def parse_choice(text: str, options: list[str]) -> str | None:
    """The option an expert chose: JSON `choice`, a `CHOICE:` line, an option number, or a unique mention."""
    data = find_json_object(text)
    candidates: list[str] = []
    if data is not None and data.get("choice") is not None:
        candidates.append(str(data["choice"]))
    lines = [m for m in _LABEL_LINE.finditer(text) if m.group("key").lower() == "choice"]
    if lines:
        candidates.append(lines[-1].group("rest"))
    for candidate in candidates:
        chosen = _match_option(candidate, options)
        if chosen is not None:
            return chosen
    return _unique_mention(text, options)


def _match_option(candidate: str, options: list[str]) -> str | None:
    cleaned = candidate.strip().strip("\"'`*.").strip()
    lowered = {o.lower(): o for o in options}
    if cleaned.lower() in lowered:
        return lowered[cleaned.lower()]
    number = re.fullmatch(r"(?:option\s*)?#?(\d+)\W*.*", cleaned, re.IGNORECASE)
    if number and 1 <= int(number.group(1)) <= len(options):
        head = cleaned[number.end(1) :].strip(" .):-").lower()
        option = options[int(number.group(1)) - 1]
        if not head or head.startswith(option.lower()):
            return option
    return _unique_mention(cleaned, options)


def _unique_mention(text: str, options: list[str]) -> str | None:
    lowered = text.lower()
    found = [o for o in options if re.search(rf"(?<!\w){re.escape(o.lower())}(?!\w)", lowered)]
    # With options like "yes" and "yes, but later", prefer the longest one that matched.
    if len(found) > 1:
        longest = max(found, key=len)
        if all(o.lower() in longest.lower() for o in found):
            return longest
        return None
    return found[0] if found else None


def _one_line(text: str) -> str:
    line = " ".join(text.split()).strip(" *_`\"'")
    return line[:300]


def _last_sentence(text: str) -> str | None:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return None
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", lines[-1]) if s.strip()]
    return _one_line(sentences[-1] if sentences else lines[-1]) or None
