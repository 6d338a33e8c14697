"""Alertmanager matchers: reading the model's strings, and deciding whether a silence narrows anything."""

from __future__ import annotations

import pytest

from servers.monitoring.am_matchers import (
    Matcher,
    from_api,
    matches_anything,
    parse_matchers,
    refuse_silencing_everything,
)
from shared.errors import InvalidArgument


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('alertname="HighLatency"', [Matcher("alertname", "=", "HighLatency")]),
        ("severity != page", [Matcher("severity", "!=", "page")]),
        ('service=~"api|web"', [Matcher("service", "=~", "api|web")]),
        ('job!~"node.*"', [Matcher("job", "!~", "node.*")]),
        ('msg="say \\"hi\\"\\n"', [Matcher("msg", "=", 'say "hi"\n')]),
        ('path="C:\\\\x"', [Matcher("path", "=", "C:\\x")]),
        (
            '{a="1", b=~"x,y", c!=""}',
            [Matcher("a", "=", "1"), Matcher("b", "=~", "x,y"), Matcher("c", "!=", "")],
        ),
        ("{}", []),
        ("a=", [Matcher("a", "=", "")]),
    ],
)
def test_matchers_are_read(text: str, expected: list[Matcher]) -> None:
    assert parse_matchers([text]) == expected


@pytest.mark.parametrize(
    "text",
    [
        'alertname~"x"',  # no such operator
        '9lives="x"',  # a label name cannot start with a digit
        'a-b="x"',
        'a="unterminated',
        'a="x" b="y"',  # text after the closing quote
        'a=x"y',  # a bare value with a quote
        '{a="x"',  # unclosed list
        '{a="x}',  # unterminated string in a list
        "a=" + "x" * 1025,
        'a="bell\x07"',
    ],
)
def test_hostile_matchers_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        parse_matchers([text])


def test_at_most_twenty_matchers() -> None:
    with pytest.raises(InvalidArgument, match="at most 20"):
        parse_matchers([f'l{i}="v"' for i in range(21)])


def test_rendering_and_the_api_form_round_trip() -> None:
    matcher = Matcher("msg", "!~", 'a"b\\c')
    assert matcher.render() == 'msg!~"a\\"b\\\\c"'
    assert parse_matchers([matcher.render()]) == [matcher]
    assert matcher.api() == {"name": "msg", "value": 'a"b\\c', "isRegex": True, "isEqual": False}
    assert from_api(matcher.api()) == matcher


@pytest.mark.parametrize(
    ("text", "anything"),
    [
        ('a=~".*"', True),
        ('a=~".+"', True),
        ('a=~".*|x"', True),
        ('a=~"x|.*"', True),
        ('a=~"(.*)"', True),
        ('a=~"(?:.+)"', True),
        ('a=~"^.*$"', True),
        ('a=~"(|.+)"', True),
        ('a=~".?.*"', True),
        ('a=~".*.*"', True),
        ('a=~"[\\\\s\\\\S]*"', True),
        ('a!=""', True),
        ('a!~""', True),
        ('a!~"^$"', True),
        ('a=""', False),
        ('a="x"', False),
        ('a!="x"', False),
        ('a=~"api|web"', False),
        ('a=~"a.*"', False),
        ('a=~"[^x]*"', False),
        ('a=~"\\\\w+"', False),
        ('a!~"x"', False),
        ('a!~".*"', False),
    ],
)
def test_what_matches_every_value(text: str, anything: bool) -> None:
    [matcher] = parse_matchers([text])
    assert matches_anything(matcher) is anything


@pytest.mark.parametrize(
    "text",
    [
        'a=~"(?i).*"',
        'a=~"\\\\pL+"',
        'a=~"[[:alpha:]]*"',
        'a=~"x\\\\b"',
        'a=~"a^b"',
        'a=~"x{1,11}"',
        "a=~" + "x" * 257,
    ],
)
def test_regexes_the_check_cannot_decide_are_refused(text: str) -> None:
    [matcher] = parse_matchers([text])
    with pytest.raises(InvalidArgument):
        matches_anything(matcher)


@pytest.mark.parametrize(
    "texts",
    [[], ["{}"], ['alertname=~".*"'], ['a=~".+"', 'b!=""'], ['{alertname=~".*|x", severity!~""}']],
)
def test_silences_of_everything_are_refused(texts: list[str]) -> None:
    with pytest.raises(InvalidArgument, match="silence"):
        refuse_silencing_everything(parse_matchers(texts))


def test_one_narrow_matcher_is_enough() -> None:
    refuse_silencing_everything(parse_matchers(['alertname=~".*"', 'instance="web-1:9100"']))
