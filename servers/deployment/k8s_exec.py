"""`k8s_exec`: run one allowlisted program inside a container — argv only, no TTY, no stdin.

The command is never given to a shell: argv[0] must be in `[policy] k8s_exec_commands` (and the
settings refuse shells, interpreters and launchers such as `env` or `xargs`, whose arguments are a
program of their own). The exec stream is read here over the API server's websocket
(`v4.channel.k8s.io`), so time and output are bounded by this code, and the request carries the
caller's impersonation headers (the kubernetes package's own stream helper drops every header but
the token). Output is redacted before it is returned; the call is audited like every other.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any, Final
from urllib.parse import urlencode

import websocket

from servers.deployment.k8s_client import impersonation_headers, kube_errors
from servers.deployment.k8s_ops import KubeOps
from servers.deployment.node_models import ExecResult
from shared.errors import InvalidArgument, PermissionDenied, UpstreamUnavailable
from shared.identity import Identity
from shared.output import clip
from shared.redaction import redact_text
from shared.validation import k8s_label, k8s_name, no_nul

__all__ = ["run_exec"]

_PROTOCOL: Final = "v4.channel.k8s.io"
_MAX_ARGS: Final = 64


def check_command(command: list[str], allowed: list[str]) -> list[str]:
    """The argv, if its program is allowlisted; refuses everything else before any request."""
    if not command:
        raise InvalidArgument("command needs at least the program to run, e.g. ['cat', '/etc/hostname']")
    if len(command) > _MAX_ARGS or sum(len(a) for a in command) > 8192:
        raise InvalidArgument(f"command may hold at most {_MAX_ARGS} arguments and 8 KiB")
    for arg in command:
        no_nul(arg, what="command argument")
    if command[0] not in allowed:
        raise PermissionDenied(
            f"program {command[0][:80]!r} is not in the exec allowlist ([policy] k8s_exec_commands: "
            f"{', '.join(allowed) or 'none'}); commands run without a shell"
        )
    return command


def run_exec(
    kube: KubeOps,
    pod: str,
    command: list[str],
    *,
    identity: Identity,
    container: str | None = None,
    namespace: str = "default",
    context: str | None = None,
) -> ExecResult:
    """Run `command` in `pod`'s `container`; stdout/stderr bounded and redacted, with the exit code."""
    settings = kube.settings.exec
    argv = check_command(command, kube.policy.settings.k8s_exec_commands)
    pod = k8s_name(pod, what="pod")
    ns = kube.namespace(namespace, write=True)
    cluster = kube.cluster(context, identity)
    with kube_errors(f"pod {pod!r}"):
        live: Any = cluster.core.read_namespaced_pod(pod, ns, _request_timeout=cluster.timeout_s)
    names = [c.name for c in live.spec.containers]
    chosen = k8s_label(container, what="container") if container is not None else names[0]
    if chosen not in names:
        raise InvalidArgument(f"pod {pod!r} has no container {chosen!r} (containers: {', '.join(names)})")
    config = cluster.api.configuration
    query = urlencode(
        [("container", chosen), ("stdout", "true"), ("stderr", "true"), ("stdin", "false"), ("tty", "false")]
        + [("command", arg) for arg in argv]
    )
    url = config.host.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    url += f"/api/v1/namespaces/{ns}/pods/{pod}/exec?{query}"
    headers = [f"sec-websocket-protocol: {_PROTOCOL}", *impersonation_headers(cluster.impersonate)]
    token = (config.api_key or {}).get("authorization") or (config.api_key or {}).get("BearerToken")
    if token:
        headers.append(f"authorization: {token}")
    out, err, status, timed_out, cut = _stream(
        url, headers, config, settings.timeout_s, settings.max_output_chars
    )
    stdout, cut_out = clip(redact_text(out), settings.max_output_chars)
    stderr, cut_err = clip(redact_text(err), settings.max_output_chars)
    return ExecResult(
        pod=pod,
        container=chosen,
        command=argv,
        exit_code=_exit_code(status),
        stdout=stdout,
        stderr=stderr,
        truncated=cut or cut_out or cut_err,
        timed_out=timed_out,
    )


def _ssl_options(config: Any) -> dict[str, Any]:
    if not config.verify_ssl:
        return {"cert_reqs": ssl.CERT_NONE}
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
    if config.ssl_ca_cert:
        options["ca_certs"] = config.ssl_ca_cert
    if config.cert_file:
        options["certfile"] = config.cert_file
    if config.key_file:
        options["keyfile"] = config.key_file
    return options


def _stream(
    url: str, headers: list[str], config: Any, timeout_s: float, max_chars: int
) -> tuple[str, str, dict[str, Any] | None, bool, bool]:
    """stdout, stderr, the final status, whether time ran out, whether output was cut."""
    socket: Any = websocket.WebSocket(sslopt=_ssl_options(config), skip_utf8_validation=True)
    deadline = time.monotonic() + timeout_s
    streams: dict[int, list[str]] = {1: [], 2: []}
    size, cut, status, timed_out = 0, False, None, False
    try:
        socket.connect(url, header=headers, timeout=min(timeout_s, 30))
    except websocket.WebSocketBadStatusException as exc:
        code = exc.status_code
        if code in (401, 403):
            raise PermissionDenied(
                f"exec: the cluster refused it ({code}): {redact_text(str(exc))[:400]}"
            ) from None
        raise UpstreamUnavailable(f"exec: the API server answered {code}") from None
    except (OSError, websocket.WebSocketException) as exc:
        raise UpstreamUnavailable(f"exec: cannot open the exec stream ({type(exc).__name__})") from None
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            socket.settimeout(left)
            try:
                opcode, data = socket.recv_data()
            except websocket.WebSocketTimeoutException:
                timed_out = True
                break
            except websocket.WebSocketConnectionClosedException:
                break
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            if not data:
                continue
            channel, payload = data[0], bytes(data[1:]).decode("utf-8", errors="replace")
            if channel == 3:
                try:
                    status = json.loads(payload)
                except ValueError:
                    status = {"status": "Failure", "message": payload}
            elif channel in streams and payload:
                if size + len(payload) > max_chars:
                    payload, cut = payload[: max(max_chars - size, 0)], True
                size += len(payload)
                streams[channel].append(payload)
    finally:
        socket.close()
    return "".join(streams[1]), "".join(streams[2]), status, timed_out, cut


def _exit_code(status: dict[str, Any] | None) -> int | None:
    if status is None:
        return None
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
            return int(cause["message"])
    return None
