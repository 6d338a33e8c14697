"""Kubernetes connections: kubeconfig contexts, a dynamic client per context, kind lookup, errors.

Everything here blocks (the `kubernetes` package is synchronous); the server calls it through
`anyio.to_thread`. The `kubernetes` package is imported on first use, not with the server: it
loads about 700 generated model modules (half a second, 10 MiB), which a server that never
touches a cluster should not pay for at start.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import urllib3.exceptions
from urllib3 import HTTPHeaderDict

from servers.deployment.impersonation import Impersonation
from servers.deployment.models import KubeContext
from shared.errors import InvalidArgument, NotFound, PermissionDenied, UpstreamUnavailable

if TYPE_CHECKING:
    from kubernetes.client import AppsV1Api, CoreV1Api
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic.resource import Resource


def kube_config() -> Any:
    """`kubernetes.config` (untyped: reached through Any, in this module only), imported on first use."""
    from kubernetes import config

    return config


# Kinds a model often names by their short or plural names.
_SHORT_NAMES = {
    "deploy": "Deployment",
    "po": "Pod",
    "svc": "Service",
    "cm": "ConfigMap",
    "rs": "ReplicaSet",
    "sts": "StatefulSet",
    "ds": "DaemonSet",
    "ns": "Namespace",
    "ev": "Event",
    "ing": "Ingress",
    "pvc": "PersistentVolumeClaim",
    "sa": "ServiceAccount",
    "hpa": "HorizontalPodAutoscaler",
}


def _api_message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return str(message or exc.reason or "no detail")[:1000]


@contextmanager
def kube_errors(what: str) -> Iterator[None]:
    """Translate the kubernetes client's exceptions into tool errors, in one place."""
    from kubernetes.client.exceptions import ApiException  # loaded already by whatever raised

    try:
        yield
    except ApiException as exc:
        status, message = exc.status or 0, _api_message(exc)
        if status == 404:
            raise NotFound(f"{what}: not found ({message}); list what exists with k8s_list") from exc
        if status == 401:
            raise PermissionDenied(f"{what}: the API server refused the credentials: {message}") from exc
        if status == 403:
            raise PermissionDenied(
                f"{what}: the cluster's RBAC forbids it ({message}); ask a cluster admin for a Role "
                "that grants it"
            ) from exc
        if status == 409:
            raise InvalidArgument(f"{what}: conflict: {message}") from exc
        if 400 <= status < 500:
            raise InvalidArgument(f"{what}: the API server rejected it: {message}") from exc
        raise UpstreamUnavailable(f"{what}: the API server failed ({status}): {message}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamUnavailable(f"{what}: cannot reach the API server ({exc.__class__.__name__})") from exc


@dataclass
class Cluster:
    """The clients for one context."""

    context: str
    api: Any
    dynamic: Any
    core: CoreV1Api
    apps: AppsV1Api
    timeout_s: float
    impersonate: Impersonation | None = None
    _resources: dict[tuple[str, str | None], Resource] = field(default_factory=dict)

    def resource(self, kind: str, api_version: str | None = None) -> Resource:
        """The API resource for a kind (`Deployment`, `deployments`, `deploy`), optionally of one version."""
        key = (kind, api_version)
        if key not in self._resources:
            self._resources[key] = self._discover(kind, api_version)
        return self._resources[key]

    def _discover(self, kind: str, api_version: str | None) -> Resource:
        from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError

        wanted = _SHORT_NAMES.get(kind.lower(), kind)
        with kube_errors(f"discover {kind}"):
            queries: list[dict[str, Any]] = [
                {"kind": wanted},
                {"name": wanted.lower()},
                {"short_names": [wanted.lower()]},
            ]
            for query in queries:
                if api_version:
                    query["api_version"] = api_version
                try:
                    found = self.dynamic.resources.get(**query)
                except ResourceNotUniqueError:
                    found = _preferred(self.dynamic.resources.search(**query))
                except ResourceNotFoundError:
                    continue
                if found is not None and "/" not in found.name:
                    resource: Resource = found
                    return resource
        raise InvalidArgument(
            f"kind {kind!r} is not served by context {self.context!r}"
            + (f" in {api_version}" if api_version else "")
            + "; use a kind such as Deployment, Pod, Service, ConfigMap"
        )


def _preferred(resources: list[Resource]) -> Resource | None:
    """Among resources of one kind in several groups, the core group, else the preferred version."""
    top = [r for r in resources if "/" not in r.name]
    for resource in top:
        if resource.group == "":
            return resource
    preferred = [r for r in top if getattr(r, "preferred", False)]
    candidates = preferred or top
    return candidates[0] if candidates else None


class KubeConnections:
    """The kubeconfig and one client per context, made on first use."""

    def __init__(self, kubeconfig: Path | None, default_context: str | None, *, timeout_s: float) -> None:
        self.kubeconfig = kubeconfig
        self.default_context = default_context
        self.timeout_s = timeout_s
        self._clusters: dict[tuple[str, Impersonation | None], Cluster] = {}
        self._current: str | None = None
        self._lock = threading.Lock()
        self._cache_dir = Path(tempfile.mkdtemp(prefix="code-mcp-k8s-"))
        self._made = 0

    def _config_file(self) -> str | None:
        return str(self.kubeconfig) if self.kubeconfig is not None else None

    def contexts(self) -> list[KubeContext]:
        from kubernetes.config.config_exception import ConfigException

        try:
            contexts, active = kube_config().list_kube_config_contexts(config_file=self._config_file())
        except (ConfigException, OSError) as exc:
            raise UpstreamUnavailable(f"cannot read the kubeconfig: {exc}") from exc
        current = self.default_context or (active or {}).get("name")
        return [
            KubeContext(
                name=c["name"],
                cluster=str((c.get("context") or {}).get("cluster", "")),
                namespace=(c.get("context") or {}).get("namespace"),
                current=c["name"] == current,
            )
            for c in contexts
        ]

    def current_context(self) -> str:
        """The configured default context, else the kubeconfig's current one (read once)."""
        if self.default_context is not None:
            return self.default_context
        if self._current is None:
            current = [context.name for context in self.contexts() if context.current]
            if not current:
                raise UpstreamUnavailable("the kubeconfig has no current context; name one with `context`")
            self._current = current[0]
        return self._current

    def cluster(self, context: str | None = None, impersonate: Impersonation | None = None) -> Cluster:
        """The clients for `context`, acting as `impersonate` when given (one client per pair, bounded)."""
        name = context or self.current_context()
        key = (name, impersonate)
        with self._lock:
            if key in self._clusters:
                return self._clusters[key]
            if name not in {c.name for c in self.contexts()}:
                raise NotFound(f"context {name!r} is not in the kubeconfig; list them with k8s_contexts")
            from kubernetes.client import AppsV1Api, CoreV1Api
            from kubernetes.config.config_exception import ConfigException
            from kubernetes.dynamic import DynamicClient

            try:
                api = kube_config().new_client_from_config(config_file=self._config_file(), context=name)
            except (ConfigException, OSError) as exc:
                raise UpstreamUnavailable(f"cannot load context {name!r}: {exc}") from exc
            if impersonate is not None:
                _impersonating(api, impersonate)
            cache = self._cache_dir / f"discovery-{self._made}.json"
            self._made += 1
            with kube_errors(f"connect to context {name!r}"):
                dynamic = DynamicClient(api, cache_file=str(cache))  # type: ignore[no-untyped-call]
            cluster = Cluster(name, api, dynamic, CoreV1Api(api), AppsV1Api(api), self.timeout_s, impersonate)
            while len(self._clusters) >= _MAX_CLIENTS:
                oldest = next(iter(self._clusters))
                self._clusters.pop(oldest).api.close()
            self._clusters[key] = cluster
            return cluster

    def close(self) -> None:
        with self._lock:
            for cluster in self._clusters.values():
                cluster.api.close()
            self._clusters.clear()


# Clients kept at once: one per context and impersonated caller; the oldest is closed beyond it.
_MAX_CLIENTS = 64


def _impersonating(api: Any, who: Impersonation) -> None:
    """Make every request of `api` carry the impersonation headers.

    The generated client keeps headers in a dict (one value per name) and Kubernetes reads each
    `Impersonate-Group` header as one group, so the headers are added where the request is sent,
    as an `HTTPHeaderDict` that keeps repeated names.
    """
    send = api.rest_client.request

    def request(method: str, url: str, *args: Any, headers: Any = None, **kwargs: Any) -> Any:
        merged = HTTPHeaderDict(headers or {})
        for name in ("Impersonate-User", "Impersonate-Group", "Impersonate-Uid"):
            merged.discard(name)
        merged["Impersonate-User"] = who.user
        for group in who.groups:
            merged.add("Impersonate-Group", group)
        return send(method, url, *args, headers=merged, **kwargs)

    api.rest_client.request = request


def impersonation_headers(who: Impersonation | None) -> list[str]:
    """The impersonation headers as `Name: value` lines (for the exec websocket)."""
    if who is None:
        return []
    return [f"Impersonate-User: {who.user}", *(f"Impersonate-Group: {group}" for group in who.groups)]


def _raw(_client: Any, data: Any) -> Any:
    return data


# Passed to the dynamic client's calls: return the decoded JSON as is. Its default wraps every
# field in ResourceField objects, which costs more than the HTTP call for a list of pods.
RAW: dict[str, Any] = {"serializer": _raw}


def to_dict(obj: Any) -> dict[str, Any]:
    """A plain dict from whatever the dynamic client returned."""
    if hasattr(obj, "to_dict"):
        result: dict[str, Any] = obj.to_dict()
        return result
    return dict(obj)


def get_or_none(
    resource: Resource, name: str, namespace: str | None, *, timeout_s: float
) -> dict[str, Any] | None:
    """The live object as a dict, or None when it does not exist (other errors propagate)."""
    from kubernetes.dynamic.exceptions import NotFoundError

    try:
        return to_dict(resource.get(name=name, namespace=namespace, _request_timeout=timeout_s, **RAW))
    except NotFoundError:
        return None
