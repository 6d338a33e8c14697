"""Bounded YAML (and JSON) loading for manifests written by a hostile caller.

`yaml.safe_load_all` is safe against code execution but not against work: a few hundred bytes of
nested aliases ("billion laughs") expand to billions of nodes downstream (json.dumps, deepcopy,
diffs, admission walks), a recursive alias makes a cyclic object, and deep nesting ends in a bare
`RecursionError`. `load_documents` bounds every one of those while the document is *composed*,
before any Python object is constructed:

- input size (bytes, UTF-8) and the number of documents;
- nesting depth of sequences and mappings;
- expanded nodes: every node counts once, and every alias counts the full expanded size of the
  node it repeats, so a merge key (`<<: *base`) or a list of aliases costs what it expands to;
- recursive aliases (an alias inside the node it names) are refused.

Everything else is PyYAML's `SafeLoader` semantics (YAML 1.1, no Python tags). The events come
from libyaml when it is installed (`CSafeLoader`'s parser); only the composer runs in Python —
it is the one place the bounds can be counted — which costs about 1.7x the all-C loader and is
still ~5x faster than the pure-Python loader.

JSON: a text whose first non-blank character is `{` or `[` and that is valid JSON is read with
`json.loads` (as kubectl does), under the same size, depth and node limits. PyYAML reads YAML
1.1, which rejects tab indentation and reads `1e5` as a string; both are valid JSON. Anything
else — YAML flow style such as `{a: b}`, several `---`-separated JSON documents — is read as YAML.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

import yaml
from yaml.composer import Composer
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import Node

from shared.errors import InvalidArgument

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_DOCUMENTS",
    "DEFAULT_MAX_NODES",
    "MAX_DEPTH_LIMIT",
    "load_documents",
]

DEFAULT_MAX_BYTES: Final = 2 * 1024 * 1024
DEFAULT_MAX_NODES: Final = 500_000
DEFAULT_MAX_DEPTH: Final = 100
DEFAULT_MAX_DOCUMENTS: Final = 1_000
#: The composer recurses (about three Python frames per level), so depth is capped well below
#: the interpreter's recursion limit whatever the caller asks for.
MAX_DEPTH_LIMIT: Final = 200

_NOT_UNICODE: Final = "the manifests are not valid Unicode text (a lone surrogate); fix the encoding"
_HAVE_LIBYAML: Final[bool] = bool(getattr(yaml, "__with_libyaml__", False))


class _LimitHit(Exception):
    """Raised inside the composer; turned into `InvalidArgument` by `load_documents`."""


def _where(mark: Any) -> str:
    # Every event and every constructor error of both parsers carries its start mark.
    return f" (line {mark.line + 1}, column {mark.column + 1})"


class _BoundedComposer(Composer):
    """PyYAML's composer, counting documents, depth and expanded nodes as it goes."""

    max_nodes: int
    max_depth: int
    max_documents: int

    if TYPE_CHECKING:  # provided by the parser half of the loader (CParser or yaml.parser.Parser)

        def check_event(self, *choices: type[Any]) -> bool: ...

        def peek_event(self) -> Any: ...

    def _setup_bounds(self, *, max_nodes: int, max_depth: int, max_documents: int) -> None:
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.max_documents = max_documents
        self._nodes = 0
        self._documents = 0
        self._depth = 0  # collections open around the node being composed
        self._deepest = 0  # the deepest level reached inside the node being composed
        # anchor -> (expanded nodes, height); an anchor in `self.anchors` but not here is still open.
        self._anchored: dict[str, tuple[int, int]] = {}

    def compose_document(self) -> Node | None:
        self._documents += 1
        if self._documents > self.max_documents:
            raise _LimitHit(
                f"the manifests hold more than {self.max_documents} YAML documents; "
                "split them into several requests"
            )
        self._anchored = {}
        node: Node | None = super().compose_document()
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            if event.anchor in self.anchors:
                self._repeat(event.anchor, event.start_mark)
            node: Node | None = super().compose_node(parent, index)
            return node
        event = self.peek_event()
        base = self._depth
        if isinstance(event, (SequenceStartEvent, MappingStartEvent)):
            self._depth += 1
            if self._depth > self.max_depth:
                raise _LimitHit(self._too_deep(event.start_mark))
        outer_deepest, self._deepest = self._deepest, self._depth
        before = self._nodes
        self._spend(1, event.start_mark)
        node = super().compose_node(parent, index)
        height = self._deepest - base
        self._deepest = max(outer_deepest, self._deepest)
        self._depth = base
        if event.anchor is not None:
            self._anchored[event.anchor] = (self._nodes - before, height)
        return node

    def _repeat(self, anchor: str, mark: Any) -> None:
        """Charge an alias for the whole subtree it repeats: its nodes, and its depth."""
        anchored = self._anchored.get(anchor)
        if anchored is None:
            raise _LimitHit(
                f"the alias *{anchor[:80]}{_where(mark)} repeats the node that contains it; a recursive "
                "structure cannot be loaded: remove the alias"
            )
        size, height = anchored
        reach = self._depth + height
        if reach > self.max_depth:
            raise _LimitHit(self._too_deep(mark, via=f" through the alias *{anchor[:80]}"))
        self._deepest = max(self._deepest, reach)
        self._spend(size, mark)

    def _too_deep(self, mark: Any, via: str = "") -> str:
        return (
            f"the manifests nest deeper than {self.max_depth} levels{via}{_where(mark)}; "
            "Kubernetes objects are never this deep: flatten the document"
        )

    def _spend(self, nodes: int, mark: Any) -> None:
        self._nodes += nodes
        if self._nodes > self.max_nodes:
            raise _LimitHit(
                f"the manifests expand to more than {self.max_nodes} YAML nodes{_where(mark)}; "
                "each alias (*name) or merge key (<<) repeats a whole subtree: "
                "expand fewer aliases, or split the manifests into several requests"
            )


def _loader_class(base: type[Any]) -> type[Any]:
    """A loader whose composer is `_BoundedComposer` and whose events come from `base`'s parser."""

    class BoundedLoader(_BoundedComposer, base):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            base.__init__(self, stream)
            Composer.__init__(self)

    return BoundedLoader


_LOADER: Final = _loader_class(yaml.CSafeLoader if _HAVE_LIBYAML else yaml.SafeLoader)


def load_documents(
    text: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_documents: int = DEFAULT_MAX_DOCUMENTS,
) -> list[Any]:
    """Every document of a YAML stream (or one JSON text), with the work bounded.

    Empty documents are returned as `None`, as `yaml.safe_load_all` does.

    Raises:
        InvalidArgument: the text is too large, nests too deep, expands to too many nodes, holds
            too many documents, has a recursive alias or a tag, or is not valid YAML. The message
            names the limit and says what to do.
        ValueError: a limit argument is out of range (a bug in the caller).
    """
    _check_limits(max_bytes=max_bytes, max_nodes=max_nodes, max_depth=max_depth, max_documents=max_documents)
    if not isinstance(text, str):
        raise InvalidArgument("manifests must be text (YAML or JSON)")
    # Characters are a lower bound on UTF-8 bytes: encode only text that might fit.
    size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise InvalidArgument(
            f"the manifests are {'at least ' if len(text) == size else ''}{size} bytes, more than the limit "
            f"of {max_bytes}; split them into several smaller requests"
        )
    stripped = text.lstrip(" \t\r\n\ufeff")
    if stripped[:1] in ("{", "["):
        as_json = _load_json(text, max_nodes=max_nodes, max_depth=max_depth)
        if as_json is not _NOT_JSON:
            return [as_json]
    return _load_yaml(text, max_nodes=max_nodes, max_depth=max_depth, max_documents=max_documents)


def _check_limits(*, max_bytes: int, max_nodes: int, max_depth: int, max_documents: int) -> None:
    for name, value in (("max_bytes", max_bytes), ("max_nodes", max_nodes), ("max_documents", max_documents)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or not 1 <= max_depth <= MAX_DEPTH_LIMIT:
        raise ValueError(f"max_depth must be an integer from 1 to {MAX_DEPTH_LIMIT}, not {max_depth!r}")


def _load_yaml(text: str, *, max_nodes: int, max_depth: int, max_documents: int) -> list[Any]:
    documents: list[Any] = []
    try:
        loader = _LOADER(text)
    except UnicodeError:  # libyaml's parser encodes the text to UTF-8 up front
        raise InvalidArgument(_NOT_UNICODE) from None
    loader._setup_bounds(max_nodes=max_nodes, max_depth=max_depth, max_documents=max_documents)
    try:
        while loader.check_data():
            documents.append(loader.get_data())
    except _LimitHit as exc:
        raise InvalidArgument(str(exc)) from None
    except yaml.constructor.ConstructorError as exc:
        raise InvalidArgument(_constructor_message(exc)) from None
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"the manifests are not valid YAML: {str(exc)[:300]}") from None
    except RecursionError:
        # A backstop: the depth bound keeps the composer far from the recursion limit.
        raise InvalidArgument(
            f"the manifests nest too deeply to read; keep them under {max_depth} levels"
        ) from None
    except (ValueError, OverflowError, TypeError) as exc:
        # Scalars PyYAML resolves but Python cannot build: a 5,000-digit integer, 2024-13-45.
        reason = str(exc).partition(";")[0][:200]
        raise InvalidArgument(
            f"the manifests hold a value that cannot be read ({reason}); quote it to keep it a string"
        ) from None
    finally:
        loader.dispose()
    return documents


def _constructor_message(exc: yaml.constructor.ConstructorError) -> str:
    problem = exc.problem or ""
    if "could not determine a constructor for the tag" in problem:
        tag = problem.rpartition(" ")[2].strip("'")
        tag = tag.replace("tag:yaml.org,2002:", "!!")
        return (
            f"the YAML tag {tag[:80]}{_where(exc.problem_mark)} is not allowed: only plain mappings, lists, "
            "strings, numbers, booleans, null and timestamps are read; remove the tag"
        )
    return f"the manifests are not valid YAML: {str(exc)[:300]}"


_NOT_JSON: Final = object()


def _load_json(text: str, *, max_nodes: int, max_depth: int) -> Any:
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidArgument(
            f"the manifests nest deeper than {max_depth} levels; "
            "Kubernetes objects are never this deep: flatten the document"
        ) from None
    except ValueError:  # not JSON (JSONDecodeError, NaN, huge integers): read it as YAML
        return _NOT_JSON
    _check_tree(value, max_nodes=max_nodes, max_depth=max_depth)
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _check_tree(value: Any, *, max_nodes: int, max_depth: int) -> None:
    """Depth and node count of a JSON value, without recursion (JSON has no aliases)."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise InvalidArgument(
                f"the manifests hold more than {max_nodes} JSON values; split them into several requests"
            )
        if isinstance(item, dict):
            children: Any = item.values()
            nodes += len(item)  # the keys
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise InvalidArgument(
                f"the manifests nest deeper than {max_depth} levels; "
                "Kubernetes objects are never this deep: flatten the document"
            )
        stack.extend((child, depth + 1) for child in children)
