"""Secrets recognised by the name they are stored under: `is_secret_key`, and `keyword_spans`, which
finds the values of such names in text — `key=value` and `key: value` in env files, YAML, JSON,
TOML, INI, shell and logs, `--flag value`, `<tag>value</tag>`, YAML `key: |` blocks, and
name/value pairs (`- name: DB_PASSWORD` / `value: …`, `{"name": "API_TOKEN", "value": "…"}`).

Source code is text too, so a value must look like a literal to count: `password=password`,
`token = fetch_token()`, `api_key: str | None = None`, `${DB_PASSWORD}` and `--token TOKEN` stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from shared.secret_patterns import ignorecase

__all__ = [
    "KEYWORD_NEEDLES",
    "is_mode",
    "is_reference",
    "is_secret_key",
    "is_workdir",
    "keyword_spans",
    "words_of",
]

Span = tuple[int, int]

# Substrings one of which every secret-sounding name contains: they gate the rules below.
KEYWORD_NEEDLES: Final = ("pass", "pw", "secret", "token", "key", "cred", "auth", "cookie", "sig")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


SECRET_WORDS: Final = _words(
    "password passwd passphrase passcode pass pw pwd secret secrets token tokens credential "
    "credentials creds cred authorization auth cookie cookies dsn sig signature psk"
)
# Concatenated forms ("pgpassword", "apikey", "authtoken") are matched inside a word.
SECRET_INFIXES: Final = (
    *("password", "passwd", "passphrase", "secret", "credential", "apikey", "accesskey", "privatekey"),
    *("accountkey", "signingkey", "encryptionkey", "masterkey", "connectionstring"),
)
SECRET_SUFFIXES: Final = ("token", "pwd")
# `key` alone is a label selector's key or a sort key; after one of these it is a secret.
KEY_QUALIFIERS: Final = _words(
    "api access secret private account signing sign encryption encrypt master auth client shared "
    "storage hmac service tls ssl app admin webhook subscription license consumer bot deploy jwt "
    "root session"
)
# A last word that makes the name *about* a secret rather than hold one (secretName,
# password_file, token_count, api_key_env, secretKeyRef, token_uri, auth_config, ...).
METADATA_WORDS: Final = _words(
    "name names ref refs file files path paths dir env var vars id ids arn type types kind count "
    "length len size url uri urls endpoint hint policy prefix suffix ttl expiry expires expiration "
    "seconds secs ms at in out limit limits enabled disabled required field fields format version "
    "location source provider mode algorithm alg method strategy rotation usage used budget rate "
    "cost bucket validity lifetime scope scopes audience issuer selector template rule rules stdin "
    "label labels class set exists present configured config settings options namespace line "
    "kubeconfig user username login email host hostname port realm domain tenant server"
)
# Any of these words anywhere: bookkeeping (max_tokens, next_page_token, public_key).
PLAIN_WORDS: Final = _words(
    "max min num total next prev previous page cursor continuation public placeholder "
    "input output prompt completion cached reasoning"  # LLM usage: input_tokens, ...
)
# Whole names that look secret but are Kubernetes references and projections.
PLAIN_NAMES: Final = _words("imagepullsecrets serviceaccounttoken automountserviceaccounttoken")

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_KEY_CACHE: dict[str, bool] = {}


def words_of(name: str) -> list[str]:
    """`name` split into lowercase words: camelCase, snake_case, kebab-case, dotted and digits."""
    return [w.lower() for w in _WORD.findall(name)]


def is_secret_key(name: str) -> bool:
    """Whether a key (or env var, flag, XML tag) named `name` holds a secret.

    Matched on word parts, so `DB_PASSWORD`, `apiKey`, `x-auth-token`, `client_secret`,
    `tls.key`, `PGPASSWORD` are secret while `token_count`, `max_tokens`, `key_points`,
    `secretName`, `secretKeyRef`, `password_file`, `session_id` are not. `api_key_env` is not
    either: it holds the *name* of a variable (and a value that is a key still matches its format).
    """
    known = _KEY_CACHE.get(name)
    if known is None:
        known = _classify(name)
        if len(_KEY_CACHE) >= 4096:
            _KEY_CACHE.clear()
        if len(name) <= 64:  # a long "name" may itself be a secret: do not keep it around
            _KEY_CACHE[name] = known
    return known


def _classify(name: str) -> bool:
    words = words_of(name)
    if not words or "".join(words) in PLAIN_NAMES or words[-1] in METADATA_WORDS:
        return False
    if not PLAIN_WORDS.isdisjoint(words):
        return False
    # A dotted name is judged by its last part (`auth.allow_loopback` is a setting of the auth
    # section, `db.password` a password), with the word before it for `tls.key`.
    first = len(words) - len(words_of(name.rsplit(".", 1)[-1])) if "." in name else 0
    for i in range(first, len(words)):
        word, before = words[i], words[i - 1] if i else ""
        if (
            word in SECRET_WORDS
            or (word in ("key", "keys") and before in KEY_QUALIFIERS)
            or (word in ("string", "strings", "str") and before in ("connection", "conn"))
            or word.endswith(SECRET_SUFFIXES)
            or any(infix in word for infix in SECRET_INFIXES)
        ):
            return True
    return False


def is_mode(value: str) -> bool:
    """Whether `value` is a word that names a mode, not a secret (`none`, `bearer`, `basic`, ...)."""
    return value.lower() in _MODES


def is_reference(name: str) -> bool:
    """Whether `name` names a reference or a property (secretName, path, type), not secret data."""
    words = words_of(name)
    return bool(words) and words[-1] in METADATA_WORDS


def is_workdir(name: str, value: str) -> bool:
    """The shell's PWD/OLDPWD hold directories (an ODBC `Pwd=` holds a password)."""
    return name.lower() in ("pwd", "oldpwd") and value.startswith(("/", "~"))


# --------------------------------------------------------------------------- in text

_KEY_CHARS: Final = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
# One per needle, on the lowercased text: the needle, the rest of the key, a separator.
_ASSIGN_RX: Final = {
    kw: re.compile(
        kw + r"[a-z0-9_.\-]{0,64}+(?P<q>\\*[\"']?)(?P<sep>[ \t]*(?:===?|!==?|:=|=>|[:=])[ \t]*|[ \t]+)"
    )
    for kw in KEYWORD_NEEDLES
}
_SCHEME_RX: Final = re.compile(r"(?:bearer|basic|token|digest|negotiate)[ \t]+(?=\S)", re.IGNORECASE)
_VALUE_RX: Final = re.compile(
    r"(?:(?P<done>\[REDACTED\]|<redacted: )"
    r"|(?P<reference>\$\{[^}\s]*\}|\$[A-Z_][A-Z0-9_]*(?![a-z])|\$\([^)\n]*\)|%[A-Za-z_]\w*%|\{\{[^}]*\}\})"
    # a quote closed, or cut at 8 kB or at the end of the text (not at a line break: code such as
    # `"password=" * 200` has the key inside a string literal)
    # JSON inside a JSON string (a label value, a log line): \"key\": \"value\"
    r"|\\+(?P<eq>[\"'])(?P<equoted>(?:(?!\\+(?P=eq))[^\n]){0,8192}+)(?:\\+(?P=eq)|\Z)"
    r"|(?P<pfx>[fFrRbBuU]{1,2})?(?P<q>[\"'])(?P<quoted>(?:(?!(?P=q))[^\\\n]|\\.){0,8192}+)"
    r"(?:(?P=q)|(?=[^\\\n])|\Z)"
    r"|(?P<bare>[^\s,;&\"'`<>{}\[\]()\\]+))"
)
# Values that are not secrets (nothing, modes and schemes, keywords of code as in `= await f()`).
_MODES: Final = _words(
    "null none nil true false ~ undefined on off yes no enabled disabled required optional "
    "bearer basic digest jwt oauth oauth2 oidc apikey hmac ntlm negotiate mtls static file env"
)
_NOT_SECRET: Final = _MODES | _words("await lambda not new yield async function typeof return")
# Placeholders: …, ***, xxx, <your token>, {token}, ${TOKEN}, $TOKEN, %s, TOKEN.
_PLACEHOLDER_RX: Final = re.compile(
    r"\.{3}|…|\*+|[xX]{3,}|<[^<>]*>|\{\{.*\}\}|\{[A-Za-z_][\w.]*\}|\$\{[^}]*\}.*|\$[A-Z_][A-Z0-9_]*.*"
    r"|\$\(.*\).*|%s|%\(\w+\)s|[A-Z][A-Z_]{0,23}"
)
_VERSION_RX: Final = re.compile(r"[\^~=<>!v ]*[0-9]+(?:\.[0-9]+)+(?:[-+.][0-9A-Za-z.]+)?")
# A CONSTANT_CASE name (token=API_KEY in code) rather than a literal.
_IDENTIFIER_RX: Final = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_NAME_RX: Final = re.compile(r"[a-z][a-z._-]*")
_NAME_ENDS: Final = ("", " ", "\t", "\r", "\n", ",", ";", ")", "]", "}", '"', "'")
_DESCRIPTION_START: Final = _words(
    "the a an whether if when which what how where who optional used sent see default defaults one "
    "any each all to for do does is are was must may can will should never always not"
)
_EXPRESSION_RX: Final = re.compile(r"[ \t]+(?:or|and|if|else|for|in|is|not)\b")  # secret = a or b
_TYPE_NAMES: Final = _words(
    "str bytes int float bool dict list tuple set any none optional union secretstr secretbytes final "
    "classvar annotated path literal string number boolean object unknown sequence mapping type"
)
# `auth: httpx.Auth | None = None`, `(token: AccessToken)`: a type, then a union bar or " = ", or
# a CamelCase or dotted type that ends a parameter (a YAML value `Hunter,` does neither)
_ANNOTATED_RX: Final = re.compile(
    r"[A-Za-z_][\w.]*(?:\[[^\]\n]*\])?(?:[ \t]*(?:\||->)|[ \t]+=(?!=))"
    r"|(?:[A-Za-z_]\w*\.)*(?:[A-Z][a-z]+[A-Z]\w*|(?<=\.)[A-Z]\w*)(?:\[[^\]\n]*\])?[ \t]*[,)]"
)
_ATTRIBUTE_CHAIN_RX: Final = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*){2,}")  # a.b.c
_ANNOTATION_RX: Final = re.compile(
    r"[A-Za-z_][\w.]*(?:\[[^\]\n]*\])?(?:[ \t]*\|[ \t]*[A-Za-z_][\w.]*(?:\[[^\]\n]*\])?)*[ \t]*=(?!=)[ \t]*"
)
_CODE_REF_RX: Final = re.compile(
    r"(?:self|cls|this|os|sys|settings|config|cfg|conf|env|environ|request|req|ctx|context|args|opts"
    r"|options|params|process|app|secrets|vault|credentials|creds|kwargs|data|body|payload|user|auth)\.\w"
)
_METAVAR_RX: Final = re.compile(r"[A-Z][A-Z_-]*")  # --token TOKEN in a usage text
_LINE_LEAD_RX: Final = re.compile(r"[ \t]*(?:[-+][ \t]*)?(?:(?:export|set|env|arg)[ \t]+)?[\"']?", re.I)
# Where a value that runs to the end of its line stops: the line break, a comment, the next key=.
_LINE_END_RX: Final = re.compile(r"\r|\n|\\n|[ \t]+#|[ \t]+(?=[A-Za-z_][\w.\-]*=)")
_BLOCK_MARKS: Final = ("|", ">", "|-", ">-", "|+", ">+")
_PAIR_NAME_RX: Final = tuple(
    re.compile(
        label
        + rf"(?<![a-z0-9_]{label})\\*[\"']?[ \t]*[:=][ \t]*(?P<vq>\\*[\"']?)(?P<n>[a-z0-9_.\-]++)(?P=vq)"
    )
    for label in ("name", "key")
)
_PAIR_JSON_RX: Final = re.compile(r"[ \t]*,[ \t]*\\*[\"']value\\*[\"'][ \t]*:[ \t]*")
_PAIR_YAML_RX: Final = re.compile(r"[ \t+\-]*value[ \t]*:[ \t]*")
_PAIR_REVERSED_RX: Final = re.compile(
    r"value(?<=[\"']value)[\"'][ \t]*:[ \t]*(?P<v>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')"
    r"[ \t]*,[ \t]*[\"'](?:name|key)[\"'][ \t]*:[ \t]*[\"'](?P<n>[^\"'\\]+)[\"']"
)
_NEXT_LINE_RX: Final = re.compile(r"[ \t]*(?:\r?\n|\\n)")
_LINE_BREAK_RX: Final = re.compile(r"\r|\n|\\n")
_XML_RX: Final = re.compile(
    r"<(?P<tag>[a-z0-9_:.\-]{1,64}+)(?:[ \t][^>]*)?>"
    r"(?P<v>[^<]+)</(?P=tag)>"
)


def keyword_spans(text: str, lowered: str, needles: Iterable[str]) -> list[Span]:
    """The spans of `text` holding values of secret-sounding names.

    `lowered` is `text.lower()`; `needles` are the `KEYWORD_NEEDLES` it contains. The lowercase
    expressions run on `lowered`; if lowering changed the length, they run case-insensitively on
    `text` instead, so the spans always fit `text`.
    """
    same = len(lowered) == len(text)
    hay = lowered if same else text

    def matches(rx: re.Pattern[str]) -> Iterable[re.Match[str]]:
        return (rx if same else ignorecase(rx)).finditer(hay)

    spans: list[Span] = []
    for rx in _PAIR_NAME_RX:
        for m in matches(rx):
            if is_secret_key(text[m.start("n") : m.end("n")]):
                spans += _pair_value_spans(text, m.end())
    for m in matches(_PAIR_REVERSED_RX):
        if is_secret_key(text[m.start("n") : m.end("n")]) and len(m.group("v")) > 2:
            spans.append((m.start("v") + 1, m.end("v") - 1))
    for m in matches(_XML_RX):
        if is_secret_key(text[m.start("tag") : m.end("tag")]) and m.group("v").strip():
            spans.append(m.span("v"))
    seen: set[int] = set()
    for kw in needles:
        covered = 0  # the end of the last value found: a needle inside it is not a key
        for m in matches(_ASSIGN_RX[kw]):
            floor = max(0, m.start() - 64)
            start = floor + len(text[floor : m.start()].rstrip(_KEY_CHARS))  # back to where the key starts
            if start in seen or start < covered or text[start - 1 : start] in ("/", "\\"):
                continue  # one key holding two needles (SECRET_TOKEN), a value, a file name (a/auth.py)
            seen.add(start)
            key, sep = text[start : m.start("q")], m.group("sep").strip()
            flag = key.startswith("-")
            # key:name with no space and no quotes is an identifier (the audit subject "api_key:bob")
            if sep == ":" and not m.group("q") and m.group("sep").endswith(":"):
                name = _NAME_RX.match(text, m.end())
                if name and text[name.end() : name.end() + 1] in _NAME_ENDS:
                    continue
            if (not sep and not flag) or key.lower() == "pass" or not is_secret_key(key.lstrip("-")):
                continue  # (a bare "pass:" is prose: "must pass: ..."; DB_PASS is a key)
            line = not flag and _at_line_start(text, start)
            found, covered = _value_spans(text, m.end(), key=key.lstrip("-"), sep=sep, line=line)
            spans += found
    return spans


def _at_line_start(text: str, start: int) -> bool:
    floor = max(0, start - 256)  # a longer lead is not one; looking further would cost O(n) per key
    escaped = text.rfind("\\n", floor, start)  # a line break inside a JSON string
    begin = max(text.rfind("\n", floor, start) + 1, escaped + 2 if escaped >= 0 else 0)
    if begin == 0 and floor > 0:
        return False
    return _LINE_LEAD_RX.fullmatch(text, begin, start) is not None


def _value_spans(text: str, pos: int, *, key: str, sep: str, line: bool) -> tuple[list[Span], int]:
    """The span of the value at `pos`, after a secret-sounding `key` and `sep` (none if it is
    code, a reference or redacted already), and where the value ends, redacted or not."""
    scheme = _SCHEME_RX.match(text, pos) if "auth" in key.lower() else None
    m = _VALUE_RX.match(text, scheme.end() if scheme else pos)
    if m is None:
        return [], pos
    spans = _literal_spans(m, text, pos, key=key, sep=sep, line=line)
    return spans, max([m.end(), *(end for _, end in spans)])


def _literal_spans(m: re.Match[str], text: str, pos: int, *, key: str, sep: str, line: bool) -> list[Span]:
    if m.group("done") or m.group("reference"):
        return []
    if m.group("eq") is not None:
        value = m.group("equoted")
        return [m.span("equoted")] if value and not _not_a_secret(value, key) else []
    if m.group("q") is not None:
        value = m.group("quoted")
        if value.startswith(("<redacted: ", "[REDACTED]")) or "f" in (m.group("pfx") or "").lower():
            return []  # redacted already, or an f-string built from variables
        return [m.span("quoted")] if value and not _not_a_secret(value, key) else []
    bare = m.group("bare")
    if sep == ":" and (bare.lower() in _TYPE_NAMES or _ANNOTATED_RX.match(text, m.start("bare"))):
        annotated = _ANNOTATION_RX.match(text, pos)  # a type annotation: only a quoted default counts
        default = _VALUE_RX.match(text, annotated.end()) if annotated else None
        return [default.span("quoted")] if default and default.group("quoted") else []
    if (
        sep in ("==", "!=", "===", "!==")  # a comparison with a name (or a pinned version)
        or text[m.end() : m.end() + 1] in ("(", "[")  # a call or a subscript
        or _CODE_REF_RX.match(bare)
        or _IDENTIFIER_RX.fullmatch(bare)
        or (not sep and (bare.startswith("-") or _METAVAR_RX.fullmatch(bare) is not None))
        or _not_a_secret(bare, key)
        or (sep == ":" and _is_description(text, m.start("bare")))
        or (sep == "=" and _EXPRESSION_RX.match(text, m.end()))
    ):
        return []
    if not line:
        return [m.span("bare")]
    if bare in _BLOCK_MARKS:
        return _block_scalar(text, pos)
    stop = _LINE_END_RX.search(text, m.start("bare"))
    end = stop.start() if stop else len(text)
    return [(m.start("bare"), len(text[:end].rstrip()))]


def _not_a_secret(value: str, key: str) -> bool:
    """Whether `value`, given as the value of `key`, is a placeholder, a mode or a name.

    Ordered so that a literal (the common case) is decided by set lookups, not expressions."""
    auth = "auth" in key.lower()
    lowered = (_SCHEME_RX.sub("", value, count=1) if auth else value).lower()
    if lowered in _NOT_SECRET or lowered.lstrip("$").rsplit(".", 1)[-1] in _names_of(key):
        return True  # a mode (auth="bearer") or the key's own name (api_key=key, token=$token)
    first = lowered[:1]
    if (first in "$.{<%*…x" or value[:1].isupper()) and (
        _PLACEHOLDER_RX.fullmatch(value) or _PLACEHOLDER_RX.fullmatch(lowered) or (auth and first == "$")
    ):
        return True
    if (first.isdigit() or first in "^~=<>v") and _VERSION_RX.fullmatch(value):
        return True  # "cookie": "^0.7.1" in a package.json
    if "." in value and _ATTRIBUTE_CHAIN_RX.fullmatch(value):
        return True  # auth = runtime.config.auth
    return is_workdir(key, value)


_NAMES_CACHE: dict[str, frozenset[str]] = {}


def _names_of(key: str) -> frozenset[str]:
    """The names a value may be and still refer to, not hold, the secret of `key`."""
    names = _NAMES_CACHE.get(key)
    if names is None:
        names = frozenset((key.lower(), key.rsplit(".", 1)[-1].lower(), *words_of(key)))
        if len(_NAMES_CACHE) >= 1024:
            _NAMES_CACHE.clear()
        _NAMES_CACHE[key] = names
    return names


def _is_description(text: str, start: int) -> bool:
    """`token: the bearer token sent upstream` (a docstring's Args, a YAML comment-like value)."""
    words = text[start : start + 80].split(maxsplit=2)
    return len(words) > 1 and words[0].lower() in _DESCRIPTION_START


def _block_scalar(text: str, pos: int) -> list[Span]:
    """The indented lines of a YAML `key: |` block that starts on the line after `pos`."""
    line_start = text.rfind("\n", 0, pos) + 1
    indent = len(text[line_start:pos]) - len(text[line_start:pos].lstrip(" \t"))
    first = end = text.find("\n", pos)
    while first >= 0 and end < len(text):
        nxt = text.find("\n", end + 1)
        line = text[end + 1 : nxt if nxt >= 0 else len(text)]
        if line.strip() and len(line) - len(line.lstrip(" \t")) <= indent:
            break
        end = nxt if nxt >= 0 else len(text)
    return [(first + 1, end)] if first >= 0 and end > first + 1 else []


def _pair_value_spans(text: str, pos: int) -> list[Span]:
    """After `name: SECRET_NAME`: the `value` beside it (JSON) or on the next lines (YAML, diffs)."""
    json_value = _PAIR_JSON_RX.match(text, pos)
    if json_value is not None:
        return _value_spans(text, json_value.end(), key="value", sep=":", line=False)[0]
    spans: list[Span] = []
    for _ in range(3):  # the value line, or in a diff the removed and the added value lines
        step = _NEXT_LINE_RX.match(text, pos)
        if step is None:
            break
        stop = _LINE_BREAK_RX.search(text, step.end())
        pos = stop.start() if stop else len(text)
        value = _PAIR_YAML_RX.match(text, step.end(), pos)
        if value is not None:
            spans += _value_spans(text, value.end(), key="value", sep=":", line=True)[0]
        elif "name" in text[step.end() : pos].lower():
            break
    return spans
