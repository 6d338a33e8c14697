"""Charts for the Helm tests: one a careful team ships, and hostile ones; a chart repository on loopback."""

from __future__ import annotations

import functools
import http.server
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.services import cache_dir, free_port, unavailable

HELM_VERSION = "v4.3.2"

CHART_YAML = "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: '1.0'\n"
POD = "securityContext: {runAsNonRoot: true, runAsUser: 65534, seccompProfile: {type: RuntimeDefault}}"
CONTAINER = "securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels: {app: {{ .Release.Name }}}
  template:
    metadata:
      labels: {app: {{ .Release.Name }}}
    spec:
      %POD%
      containers:
      - name: web
        image: {{ .Values.image }}
        %CONTAINER%{{ if .Values.privileged }}, privileged: true{{ end }}}
""".replace("%POD%", POD).replace("%CONTAINER%", CONTAINER)
CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  greeting: {{ .Values.greeting | quote }}
"""
HOST_PATH = """apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-reader
spec:
  %POD%
  volumes: [{name: host, hostPath: {path: /}}]
  containers:
  - name: r
    image: busybox:1
    %CONTAINER%}
    volumeMounts: [{name: host, mountPath: /host}]
""".replace("%POD%", POD).replace("%CONTAINER%", CONTAINER)
PRIVILEGED_HOOK = """apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations: {"helm.sh/hook": pre-install}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: m
        image: busybox:1
        securityContext: {privileged: true}
"""


def helm_binary() -> Path:
    cache = cache_dir()
    binary = cache / "helm" / HELM_VERSION / "bin" / "helm"
    if not binary.is_file():
        unavailable(f"helm {HELM_VERSION} is not built ({binary}): run scripts/setup.d/65-helm-compose.sh")
    return binary


def write_chart(
    root: Path, name: str = "web", version: str = "0.1.0", *, extra: dict[str, str] | None = None
) -> Path:
    """A chart folder: a Deployment that passes the restricted Pod Security Standard, and a ConfigMap."""
    chart = root / name
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text(CHART_YAML.format(name=name, version=version))
    (chart / "values.yaml").write_text(
        "image: busybox:1.0\nreplicas: 1\nprivileged: false\ngreeting: hello\n"
    )
    (chart / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    (chart / "templates" / "configmap.yaml").write_text(CONFIGMAP)
    for file, text in (extra or {}).items():
        (chart / "templates" / file).write_text(text)
    return chart


@contextmanager
def chart_repository(helm: Path, charts: list[Path], folder: Path) -> Iterator[str]:
    """`helm package` + `helm repo index`, served by a loopback HTTP server; yields its URL."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "HELM_CACHE_HOME": str(folder / ".c"),
        "HELM_CONFIG_HOME": str(folder / ".g"),
        "HELM_DATA_HOME": str(folder / ".d"),
    }
    for chart in charts:
        subprocess.run(
            [str(helm), "package", str(chart), "--destination", str(folder)],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    subprocess.run(
        [str(helm), "repo", "index", str(folder), "--url", url],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
