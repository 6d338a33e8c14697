"""Secrets recognised by their shape: provider token prefixes, private keys, credentials in URLs.

(Secrets recognised by the name they are stored under — `password=`, `"api_key":`, env pairs —
are in `shared.secret_keys`; `shared.redaction` applies both.)

Each `SecretFormat` is gated: it only runs when its gate fires, and a gate costs about one
substring scan. Either lowercase `needles`, one of which the lowercased text must contain, or a
short `gate` expression that starts with a literal (the regular expression engine finds a literal
prefix about as fast as `in`). Ordinary text pays for ~28 scans, never for the precise expressions.

Only prefix-anchored or context-anchored shapes are listed: generic high-entropy detection flags
hashes, digests and ids, which tool results are full of.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

__all__ = ["FORMATS", "PEM_BODY_LINES", "SecretFormat", "ignorecase"]


@dataclass(frozen=True, slots=True)
class SecretFormat:
    """One family of secrets recognised by shape.

    Attributes:
        name: a short id, for tests and docs.
        pattern: the precise expression. If it has named groups `s`, `s1`, `s2`, …, only those
            spans are replaced (e.g. the password in a URL); otherwise the match is.
        needles: lowercase substrings that gate the pattern (checked against the lowercased text).
        gate: else, an expression with a literal prefix that gates it (checked against the text).
            It matches no more than that literal, so in a NUL-joined text (`redact_data`) it
            cannot run from one string into the next and hide a hit there.
        check: a further test of a match (a decoded header, a character mix), or None.
        spans: what to replace for a match, when it is not the match or its `s` groups.
        caseless: match `pattern` against the lowercased text (the pattern is written in lowercase).
    """

    name: str
    pattern: re.Pattern[str]
    needles: tuple[str, ...] = ()
    gate: re.Pattern[str] | None = None
    check: Callable[[re.Match[str]], bool] | None = None
    spans: Callable[[re.Match[str]], list[tuple[int, int]]] | None = None
    caseless: bool = False


def _private_pem_base64(match: re.Match[str]) -> bool:
    # The match is base64 with padding only at its end: cut to whole groups, it always decodes.
    head = match.group()[:88]
    return b"PRIVATE KEY" in base64.b64decode(head[: len(head) // 4 * 4])


def _api_key_mix(match: re.Match[str]) -> bool:
    # "sk-prod-cluster-eu-1" is a host name; provider keys mix cases and digits, or are long hex.
    body = match.group()
    return (any(c.isupper() for c in body) and any(c.isdigit() for c in body)) or bool(
        re.search("[0-9a-f]{32}", body)
    )


_BASE64_LINE = re.compile(r"[ \t]*[A-Za-z0-9+/=]{4,}[ \t]*")
_LINE_BREAKS = re.compile(r"\r?\n|\\r\\n|\\n")


def _base64_lines_before(match: re.Match[str]) -> list[tuple[int, int]]:
    """The run of base64 lines that ends where `match` (an END line) starts."""
    text, end = match.string, match.start()
    # Look no further back than the previous armour line, so many END lines cost linear time.
    floor = max(text.rfind("-----", max(0, end - 16384), end), end - 16384, 0)
    lines = _LINE_BREAKS.split(text[floor:end])
    if len(lines) < 2 or lines[-1].strip():  # the END line must start a line
        return []
    start = end - len(lines[-1])
    for line in reversed(lines[:-1]):
        if not _BASE64_LINE.fullmatch(line):
            break
        start = text.rfind(line, floor, start)
    return [(start, end)] if start < end - len(lines[-1]) else []


# Not a credential but a stand-in for one: "…", "$TOKEN", "${PW}", "{token}", "<api key>", "%s",
# "PASSWORD" or "password" (documentation: scheme://user:password@host), "***".
_PLACEHOLDER = re.compile(
    r"(?:\.{3}|…|\$|\{|<|%s|%\().*|[A-Z][A-Z_]{0,23}|\*+|[xX]{3,}|(?i:password|passwd|pass|secret|token)[,.;)]?"
)


def _not_template(match: re.Match[str]) -> bool:
    """Source code and docs build headers and URLs from stand-ins: f"Bearer {token}", "$TOKEN"."""
    value = next((match.group(g) for g in ("s", "s1") if g in match.re.groupindex and match.group(g)), "")
    prefix = match.group("p") if "p" in match.re.groupindex else None
    return prefix != "f" and not _PLACEHOLDER.fullmatch(value.strip())


def _literal(prefix: str) -> re.Pattern[str]:
    return re.compile(re.escape(prefix))


_B64 = "A-Za-z0-9+/"
_NL = r"(?:\r?\n|\\r\\n|\\n)"
# Underscore-separated prefixes: one scan over "_" with a fixed-width lookbehind per prefix length
# gates all of them; the precise expression runs only when one of them is really there.
_UNDERSCORE_PREFIXES: Final = (
    "hf|r8|[sr]k",
    "gh[pousr]|npm|gsk|sbp|lin|glc|do[por]",
    "dckr|lsv2|pcsk|glsa",
    "whsec|shp[acps][acst]",
    "github|sntry[su]",
)
_UNDERSCORE_GATE = re.compile(
    "_(?:" + "|".join(rf"(?<=(?<![A-Za-z0-9_-])(?:{p})_)" for p in _UNDERSCORE_PREFIXES) + ")"
)
_PEM_GATE = re.compile(r"-----(?:BEGIN|END) ")

FORMATS: Final[tuple[SecretFormat, ...]] = (
    # -- private keys: the whole body, also with the END line cut off or JSON-escaped newlines
    SecretFormat(
        "pem-private-key",
        re.compile(
            r"-----BEGIN (?P<t>(?:[A-Z0-9]+ )*)PRIVATE KEY(?P<b>(?: BLOCK)?)-----(?P<s>"
            r"(?:[^-]|-(?!----BEGIN ))*?(?=-----END (?P=t)PRIVATE KEY(?P=b)-----)"
            rf"|(?=(?:\\[rn]|\s)*(?:[{_B64}]{{16}}|[A-Za-z-]+: ))(?:[{_B64}=:,.\s-]|\\[rn])+)",
        ),
        gate=_PEM_GATE,
    ),
    SecretFormat(
        "pem-private-key-tail",  # the lines before an END line whose BEGIN line is not shown
        re.compile(r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY"),
        gate=_PEM_GATE,
        spans=_base64_lines_before,
    ),
    SecretFormat(
        "pem-private-key-base64",  # kubeconfig client-key-data, Secret data
        re.compile(rf"LS0tLS1CRUdJTi[{_B64}]{{20,}}={{0,2}}"),
        gate=_literal("LS0tLS1CRUdJTi"),
        check=_private_pem_base64,
    ),
    # -- credentials in URLs and webhook URLs
    SecretFormat(
        "url-credentials",
        re.compile(
            r"://(?:[^\s:/?#@\"'<>\\]*:(?P<s>[^\s/?#\"'<>\\]+)@"
            r"|hooks\.slack\.com/(?:services|workflows|triggers)/(?P<s1>[A-Za-z0-9_/+-]{16,})"
            r"|(?:[a-z0-9-]+\.)*discord(?:app)?\.com/api/webhooks/[0-9]+/(?P<s2>[A-Za-z0-9_-]{30,})"
            r"|[a-z0-9-]+\.webhook\.office\.com/webhookb2/(?P<s3>[^\s\"'<>\\]+)"
            r"|api\.telegram\.org/bot(?P<s4>[0-9]{5,}:[A-Za-z0-9_-]{30,}))"
        ),
        gate=_literal("://"),
        check=_not_template,
    ),
    # -- provider tokens, by prefix (one expression per shared first literal)
    SecretFormat(
        "aws-gcp-age-atlassian",  # AKIA/ASIA/ABIA/ACCA/A3T key ids, AIza…, AGE-SECRET-KEY-1…, ATATT3…
        re.compile(
            r"A(?<![A-Za-z0-9]A)(?:(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])"
            r"|Iza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])|GE-SECRET-KEY-1[0-9A-Z]{58}|TATT3[A-Za-z0-9_=-]{100,})"
        ),
        gate=re.compile(r"A(?<![A-Za-z0-9]A)(?:KIA|SIA|BIA|CCA|3T|Iza|GE-SECRET-KEY-1|TATT3)"),
    ),
    SecretFormat(
        "google-oauth-gitlab-runner",  # GOCSPX-… client secrets, GR1348941… runner registration
        re.compile(r"G(?<![A-Za-z0-9]G)(?:OCSPX-[A-Za-z0-9_-]{24,}|R1348941[A-Za-z0-9_-]{20,})"),
        gate=re.compile(r"G(?<![A-Za-z0-9]G)(?:OCSPX-|R1348941)"),
    ),
    SecretFormat(
        "twilio-sendgrid",  # SK + 32 hex, SG.x.y
        re.compile(
            r"S(?<![A-Za-z0-9]S)(?:K[0-9a-fA-F]{32}(?![A-Za-z0-9])"
            r"|G\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-]))"
        ),
        gate=re.compile(r"S(?<![A-Za-z0-9]S)(?:K[0-9a-fA-F]|G\.)"),
    ),
    SecretFormat(
        "slack-xai",  # xoxb-/xoxp-/xoxa-/xoxe-/xoxs-/xoxr-…, xapp-…, xai-…
        re.compile(
            r"x(?<![A-Za-z0-9_-]x)(?:ox[abposrce](?:\.xox[bp])?-[A-Za-z0-9-]{10,}"
            r"|app-[0-9]-[A-Za-z0-9-]{10,}|ai-[A-Za-z0-9]{40,})"
        ),
        gate=re.compile(r"x(?<![A-Za-z0-9_-]x)(?:ox[abposrce]|app-|ai-)"),
    ),
    SecretFormat(
        "gitlab",  # glpat-, gldt-, glrt-, glptt-, glcbt-, … (glsa_/glc_ are in the underscore row)
        re.compile(
            r"gl(?<![A-Za-z0-9_-]gl)(?:pat|dt|rt|rtr|ptt|cbt|imt|oas|soat|ft|agent|ffct|wt)-[A-Za-z0-9_.-]{20,}"
        ),
        gate=re.compile(r"gl(?<![A-Za-z0-9_-]gl)[a-z]{2,5}-"),
    ),
    SecretFormat(
        "openai-anthropic-mapbox",  # sk-…, sk-proj-…, sk-svcacct-…, sk-ant-api03-…, sk.eyJ…
        re.compile(
            r"sk(?<![A-Za-z0-9_-]sk)(?:-[A-Za-z0-9_-]{20,}|\.eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,})"
        ),
        gate=re.compile(r"sk(?<![A-Za-z0-9_-]sk)[-.]"),
        check=_api_key_mix,
    ),
    SecretFormat(
        "underscore-prefixed",  # GitHub, Stripe, npm, Docker Hub, Hugging Face, Shopify, …
        re.compile(
            r"(?<![A-Za-z0-9_-])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"
            r"|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9+/=]{24,}|npm_[A-Za-z0-9]{36}"
            r"|dckr_(?:pat|oat)_[A-Za-z0-9_-]{20,}|hf_[A-Za-z0-9]{30,}|shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}"
            r"|do[por]_v1_[a-f0-9]{64}|gsk_[A-Za-z0-9]{40,}|r8_[A-Za-z0-9]{30,}"
            r"|lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}|sbp_[a-f0-9]{40}|pcsk_[A-Za-z0-9_]{40,}"
            r"|sntry[su]_[A-Za-z0-9_=+/-]{40,}|lin_api_[A-Za-z0-9]{40}|gl(?:sa|c)_[A-Za-z0-9_=+/-]{32,})"
            r"(?![A-Za-z0-9])"
        ),
        gate=_UNDERSCORE_GATE,
    ),
    SecretFormat("pypi", re.compile(r"pypi-AgE[A-Za-z0-9_-]{50,}"), gate=_literal("pypi-AgE")),
    SecretFormat(
        "jwt",
        re.compile(r"eyJ(?<![A-Za-z0-9_-]eyJ)[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
        gate=re.compile(r"eyJ(?<![A-Za-z0-9_-]eyJ)"),
    ),
    SecretFormat("google-access-token", re.compile(r"ya29\.[0-9A-Za-z_-]{20,}"), gate=_literal("ya29.")),
    SecretFormat(
        "vault-token",
        re.compile(r"hv(?<![A-Za-z0-9_-]hv)[sbr]\.[A-Za-z0-9_-]{24,}"),
        gate=re.compile(r"hv(?<![A-Za-z0-9_-]hv)[sbr]\."),
    ),
    SecretFormat(
        "databricks",
        re.compile(r"dapi(?<![A-Za-z0-9_-]dapi)[a-f0-9]{32}(?:-[0-9]+)?(?![A-Za-z0-9])"),
        gate=re.compile(r"dapi(?<![A-Za-z0-9_-]dapi)[a-f0-9]"),
    ),
    SecretFormat(
        "mailgun", re.compile(r"key-(?<![A-Za-z0-9_-]key-)[0-9a-f]{32}(?![A-Za-z0-9])"), needles=("key",)
    ),
    SecretFormat(
        "azure-ad-client-secret",  # the "Q~" at position 4 makes it recognisable
        re.compile(r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.-]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"),
        needles=("q~",),
    ),
    SecretFormat(
        "curl-user",  # curl -u user:password, --user user:password
        re.compile(r"(?<![A-Za-z0-9_-])(?:-u|--user)(?:[ \t]+|=)[\"']?[^\s:\"']+:(?P<s>[^\s\"']+)"),
        gate=re.compile(r"-u(?:[ \t]|ser[ \t=])"),  # a two-character literal prefix: a fast scan
        check=_not_template,
    ),
    # -- headers; they run before the key=value rules, which then see "[REDACTED]" and skip
    SecretFormat(
        "authorization-header",
        re.compile(
            r"authorization[\"']?[ \t]*[:=][ \t]*(?P<p>[a-z](?=[\"']))?[\"']?"
            r"(?:digest[ \t]+(?P<s1>(?:[^\r\n\\]|\\[^rn])+)"
            r"|(?:(?:bearer|basic|token|negotiate|ntlm|apikey|sso-key|aws4-hmac-sha256|otp)[ \t]+)?"
            r"(?P<s>[^\r\n\"'`\\]+))"
        ),
        needles=("auth",),
        check=_not_template,
        caseless=True,
    ),
    SecretFormat(
        "cookie-header",
        re.compile(
            r"(?<![a-z0-9_])cookie[\"']?[ \t]*[:=][ \t]*(?P<p>[a-z](?=[\"']))?[\"']?"
            r"(?P<s>[^\r\n\"'\\=]{0,64}+=[^\r\n\"'\\]*)"
        ),
        needles=("cookie",),
        check=_not_template,
        caseless=True,
    ),
)

# A run of 2+ full base64 lines (64, 70 or 76 characters: PEM, OpenSSH, MIME) and the short last
# line: a private key's body shown without its BEGIN line (a scanner snippet, a clipped log). The
# last line counts only when it ends its line: `Authorization:` on the next line is not base64.
PEM_BODY_LINES: Final = re.compile(
    rf"(?<![{_B64}=])(?:(?:[{_B64}]{{76}}|[{_B64}]{{70}}|[{_B64}]{{64}})"
    rf"(?:\r?\n|\\r\\n|\\n|[ \t])[ \t]*){{2,}}(?:[{_B64}]{{1,76}}={{0,2}}(?=\s|\\[rn]|\Z))?"
)


@lru_cache(maxsize=64)
def ignorecase(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` matching case-insensitively: for a text whose `lower()` changed its length (e.g.
    "İ"), where the spans of a lowercase pattern on the lowercased text would not fit the text."""
    return re.compile(pattern.pattern, pattern.flags | re.IGNORECASE)
