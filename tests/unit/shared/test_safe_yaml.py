"""Bounded YAML loading: what a hostile caller's manifests can cost, and that real manifests read the
same as with `yaml.safe_load_all`."""

from __future__ import annotations

import json
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from shared import safe_yaml
from shared.errors import InvalidArgument
from shared.safe_yaml import MAX_DEPTH_LIMIT, load_documents

LOADERS = ["libyaml", "python"] if yaml.__with_libyaml__ else ["python"]


@pytest.fixture(params=LOADERS)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test with libyaml's parser and with PyYAML's pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(safe_yaml, "_LOADER", safe_yaml._loader_class(yaml.SafeLoader))
    yield request.param


def refused(text: str, **limits: Any) -> str:
    with pytest.raises(InvalidArgument) as caught:
        load_documents(text, **limits)
    return str(caught.value)


# --------------------------------------------------------------------------- alias bombs


def _laughs(levels: int, width: int = 9) -> str:
    """The classic: each of `levels` anchors repeats the previous one `width` times."""
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = [f"a: &a [{','.join(['x'] * width)}]"]
    lines += [f"{names[i]}: &{names[i]} [{','.join([f'*{names[i - 1]}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _merge_bomb(levels: int) -> str:
    lines = ["m0: &m0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    for i in range(1, levels):
        keys = ", ".join(f"k{j}: *m{i - 1}" for j in range(8))
        lines.append(f"m{i}: &m{i} {{<<: [*m{i - 1}, *m{i - 1}], {keys}}}")
    return "\n".join(lines) + "\n"


BOMBS = [
    ("sequences-363-bytes", _laughs(9)),
    (
        "mappings",
        "\n".join(
            ["a0: &a0 {x: lol, y: lol, z: lol, w: lol}"]
            + [
                f"a{i}: &a{i} {{x: *a{i - 1}, y: *a{i - 1}, z: *a{i - 1}, w: *a{i - 1}}}"
                for i in range(1, 14)
            ]
        ),
    ),
    (
        "anchors-in-keys",
        "\n".join(
            ["k0: &k0 [lol, lol, lol, lol, lol, lol, lol, lol]"]
            + [f"k{i}: &k{i} [{', '.join([f'*k{i - 1}'] * 8)}]" for i in range(1, 8)]
            + ["? *k7\n: boom"]
        ),
    ),
    ("merge-keys", _merge_bomb(9)),
    ("across-documents", "\n---\n".join([_laughs(6)] * 20)),
    ("wide-and-shallow", _laughs(3, width=100)),
    (
        "flow-that-looks-like-json",
        "[" + ", ".join(line.split(": ", 1)[1] for line in _laughs(9).splitlines()) + "]",
    ),
]


@pytest.mark.parametrize("text", [b[1] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_alias_bomb_is_refused_before_it_expands(loader: str, text: str) -> None:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        message = refused(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "expand to more than 500000 YAML nodes" in message
    assert time.perf_counter() - started < 5
    assert peak < 50 * 1024 * 1024


def test_the_bomb_above_is_small_and_expands_to_hundreds_of_millions() -> None:
    assert len(_laughs(9).encode()) <= 363
    assert 9**9 > 380_000_000


def test_aliases_within_the_node_budget_load_like_safe_load(loader: str) -> None:
    text = _laughs(4) + "\n" + _merge_bomb(3)
    assert load_documents(text) == [yaml.safe_load(text)]


def test_node_budget_counts_each_alias_at_its_expanded_size() -> None:
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8]\nb: [*a, *a, *a]\n"  # 1 + (1 + 9) + (1 + 1 + 3 * 9) = 40 nodes
    assert load_documents(text, max_nodes=40) == [yaml.safe_load(text)]
    assert "more than 39 YAML nodes" in refused(text, max_nodes=39)


def test_recursive_alias_is_refused(loader: str) -> None:
    assert "repeats the node that contains it" in refused("a: &a [1, *a]\n")


def test_recursive_alias_in_a_mapping_is_refused(loader: str) -> None:
    assert "repeats the node that contains it" in refused("a: &a {self: *a}\n")


def test_undefined_alias_is_invalid_yaml(loader: str) -> None:
    assert "found undefined alias" in refused("a: *missing\n")


def test_aliases_repeat_their_depth_too(loader: str) -> None:
    def nest(inner: str) -> str:
        return "[" * 40 + inner + "]" * 40

    text = f"a: &a {nest('x')}\nb: &b {nest('*a')}\nc: {nest('*b')}\n"
    assert "deeper than 100 levels through the alias *b" in refused(text)
    assert load_documents(text, max_depth=125) == [yaml.safe_load(text)]


# --------------------------------------------------------------------------- nesting depth

DEEP = [
    ("flow-sequence-5000", "[" * 5000 + "]" * 5000),
    ("flow-sequence-100000", "[" * 100_000 + "]" * 100_000),
    ("flow-mapping-5000", "x: " + "{a: " * 5000 + "b" + "}" * 5000),
    ("flow-mapping-100000", "x: " + "{a: " * 100_000 + "b" + "}" * 100_000),
    ("block-sequence-5000", "- " * 5000 + "x\n"),
    ("block-sequence-100000", "- " * 100_000 + "x\n"),
    ("block-mapping-5000", "".join(" " * i + "a:\n" for i in range(5000))[:1_900_000]),
    ("unclosed-100000", "[" * 100_000),
    ("json-5000", "[" * 5000 + "]" * 5000),
    ("json-object-100000", '{"a": ' * 100_000 + "1" + "}" * 100_000),
]


@pytest.mark.parametrize("text", [d[1] for d in DEEP], ids=[d[0] for d in DEEP])
def test_deep_nesting_is_refused_with_a_clear_message(loader: str, text: str) -> None:
    message = refused(text)
    assert "nest deeper than 100 levels" in message
    assert "flatten the document" in message


@pytest.mark.parametrize(
    "text",
    ["[" * 100 + "]" * 100, "- " * 100 + "x\n", "x: " + "{a: " * 99 + "b" + "}" * 99],
    ids=["flow", "block", "mapping"],
)
def test_nesting_at_the_limit_loads(loader: str, text: str) -> None:
    assert load_documents(text) == list(yaml.safe_load_all(text))


def test_nesting_limit_is_configurable() -> None:
    assert load_documents("a: {b: {c: 1}}", max_depth=3) == [{"a": {"b": {"c": 1}}}]
    assert "deeper than 2 levels" in refused("a: {b: {c: 1}}", max_depth=2)


# --------------------------------------------------------------------------- documents and size


def test_many_small_documents_are_refused(loader: str) -> None:
    assert "more than 1000 YAML documents" in refused("---\na: 1\n" * 5000)


def test_documents_up_to_the_limit_load(loader: str) -> None:
    assert load_documents("---\na: 1\n" * 1000) == [{"a": 1}] * 1000


def test_empty_documents_are_none_as_with_safe_load_all() -> None:
    text = "---\n---\na: 1\n---\n"
    assert load_documents(text) == list(yaml.safe_load_all(text)) == [None, {"a": 1}, None]


def test_text_over_the_byte_limit_is_refused_before_parsing() -> None:
    assert "are at least 11 bytes, more than the limit of 10" in refused("a: 1234567\n", max_bytes=10)


def test_byte_limit_counts_utf8_bytes_not_characters() -> None:
    text = "a: " + "é" * 5  # 13 bytes, 8 characters
    assert load_documents(text, max_bytes=13) == [{"a": "ééééé"}]
    assert "are 13 bytes, more than the limit of 12" in refused(text, max_bytes=12)


def test_large_legitimate_manifest_set_loads_like_safe_load_all() -> None:
    env = "".join(f'        - {{name: VAR_{j}, value: "value {j}"}}\n' for j in range(20))
    one = DEPLOYMENT.replace("name: web\n", "name: web-{i}\n").replace(
        "        env:\n", "        env:\n" + env
    )
    text = "---\n".join(one.replace("{i}", str(i)) for i in range(700))
    assert len(text.encode()) > 1_000_000
    started = time.perf_counter()
    documents = load_documents(text)
    elapsed = time.perf_counter() - started
    assert elapsed < 15  # ~0.5 s measured on an idle core
    # The same as safe_load_all (compared on the small manifests below), through libyaml for speed.
    assert documents == list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


# --------------------------------------------------------------------------- tags

TAGS = [
    ("python-object", "!!python/object:os.system x"),
    ("python-object-apply", "!!python/object/apply:os.system ['id']"),
    ("python-name", "!!python/name:os.system"),
    ("python-module", "!!python/module:os"),
    ("local-tag", "!Ref something"),
    ("verbatim-tag", "!<tag:example.com,2024:evil> x"),
]


@pytest.mark.parametrize("value", [t[1] for t in TAGS], ids=[t[0] for t in TAGS])
def test_non_standard_tags_are_refused(loader: str, value: str) -> None:
    message = refused(f"a: {value}\n")
    assert "is not allowed" in message
    assert "remove the tag" in message


def test_standard_tags_read_as_with_safe_load() -> None:
    text = "a: !!str 1\nb: !!int '2'\nc: !!binary aGk=\nd: !!set {x, y}\n"
    assert load_documents(text) == [yaml.safe_load(text)]


# --------------------------------------------------------------------------- ordinary manifests

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: team-a
  labels: {app: web, tier: "frontend"}
  annotations:
    description: |
      A web server.
      Two lines.
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: web
        image: nginx:1.27
        args: ["--port", "8080", '--flag=yes']
        ports: [{containerPort: 8080, name: http}]
        env:
        - {name: RATIO, value: "0.5"}
        - name: ON
          value: "true"
        resources: {limits: {cpu: 500m, memory: 128Mi}}
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""

MANIFESTS = [
    ("deployment", DEPLOYMENT),
    (
        "service-and-configmap",
        """\
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{port: 80, targetPort: 8080}]
  selector: {app: web}
---
# a comment between documents
apiVersion: v1
kind: ConfigMap
metadata: {name: config}
data:
  nginx.conf: >
    folded
    text
  yes-is-a-bool: yes
  octal: 0755
  date: 2024-01-02
  null-value: ~
...
""",
    ),
    (
        "anchors-and-merge",
        """\
x-common: &common
  labels: {app: web}
  annotations: {team: a}
first:
  metadata:
    <<: *common
    name: first
second:
  metadata: {<<: *common, name: second}
""",
    ),
    (
        "cronjob",
        """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: job, image: "busybox", command: [sh, -c, "echo $(date) & sleep 1"]}]
""",
    ),
    (
        "list",
        "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n",
    ),
    ("empty", ""),
    ("only-comments", "# nothing here\n"),
]


@pytest.mark.parametrize("text", [m[1] for m in MANIFESTS], ids=[m[0] for m in MANIFESTS])
def test_kubernetes_manifests_load_exactly_like_safe_load_all(loader: str, text: str) -> None:
    assert load_documents(text) == list(yaml.safe_load_all(text))


# --------------------------------------------------------------------------- JSON


def test_json_is_read_as_json() -> None:
    text = json.dumps(yaml.safe_load(DEPLOYMENT), indent="\t") + "\n"
    assert load_documents(text) == [yaml.safe_load(DEPLOYMENT)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"replicas": 1e2}', {"replicas": 100.0}), ('{\n\t"a": 1\n}', {"a": 1}), ("  [1, 2]", [1, 2])],
    ids=["exponent", "tab-indent", "leading-space"],
)
def test_json_that_yaml_1_1_misreads_is_read_as_json(text: str, expected: Any) -> None:
    assert load_documents(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("{a: b}", [{"a": "b"}]), ('{"a": 1}\n---\n{"b": 2}\n', [{"a": 1}, {"b": 2}]), ("[NaN]", [["NaN"]])],
    ids=["yaml-flow", "several-json-documents", "not-json"],
)
def test_text_that_is_not_one_json_value_is_read_as_yaml(text: str, expected: list[Any]) -> None:
    assert load_documents(text) == expected


def test_json_is_bounded_like_yaml() -> None:
    assert "more than 10 JSON values" in refused(json.dumps(list(range(20))), max_nodes=10)
    assert "more than 3 JSON values" in refused('{"a": 1, "b": 2}', max_nodes=3)
    assert "deeper than 2 levels" in refused("[[[1]]]", max_depth=2)
    assert load_documents("[[1]]", max_depth=2) == [[[1]]]


# --------------------------------------------------------------------------- other bad input


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [1, 2\n", "not valid YAML"),
        ("a: 1\n  b: 2\n", "not valid YAML"),
        ("a: 1\x00", "not valid YAML"),
        ("a: " + "9" * 5000, "cannot be read (Exceeds the limit (4300 digits)"),
        ("a: 2024-13-45", "cannot be read (month must be in 1..12)"),
        ("a: \ud800", "not valid"),
        ("? [a, b]\n: c\n", "not valid YAML"),
    ],
    ids=["unclosed", "bad-indent", "nul", "huge-integer", "bad-date", "lone-surrogate", "unhashable-key"],
)
def test_unreadable_text_is_an_invalid_argument(text: str, message: str) -> None:
    assert message in refused(text)


@pytest.mark.parametrize("text", [b"a: 1", None, 5], ids=["bytes", "none", "number"])
def test_non_text_is_an_invalid_argument(text: Any) -> None:
    assert "must be text" in refused(text)


@pytest.mark.parametrize(
    "limits",
    [
        {"max_bytes": 0},
        {"max_nodes": -1},
        {"max_documents": True},
        {"max_depth": 0},
        {"max_depth": MAX_DEPTH_LIMIT + 1},
        {"max_nodes": 1.5},
    ],
    ids=["bytes-zero", "nodes-negative", "documents-bool", "depth-zero", "depth-over-cap", "nodes-float"],
)
def test_out_of_range_limits_are_a_bug_in_the_caller(limits: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        load_documents("a: 1", **limits)


def test_recursion_limit_is_a_backstop(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(self: Any) -> Any:
        raise RecursionError

    monkeypatch.setattr(safe_yaml._LOADER, "get_data", explode)
    assert "nest too deeply" in refused("a: 1")
