"""The Secret-reference and service-account rules: what a pod would read, and as whom it runs."""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from shared.admission._fields import Finding, Sink, quote
from shared.admission.pod_view import PodView, SecretReference, read_pod
from shared.admission.templates import PodTemplate

__all__ = ["secret_findings", "secret_references", "service_account_findings"]

_HOW: Final = {
    "volume": "mounts it as a volume",
    "projected": "projects it into a volume",
    "volumePlugin": "hands it to a volume plugin",
    "env": "reads it into an environment variable",
    "envFrom": "reads all of it into environment variables",
}


def secret_references(template: PodTemplate) -> list[SecretReference]:
    """Every Secret a pod template names, with its path; `kind == "imagePull"` for image pull secrets.

    Read: `volumes[].secret`, `volumes[].projected.sources[].secret`, the volume plugins' secret
    refs (csi, cephfs, cinder, flexVolume, iscsi, rbd, scaleIO, storageos, azureFile), and for
    every container kind `env[].valueFrom.secretKeyRef` and `envFrom[].secretRef`.
    """
    return read_pod(template, Sink()).secrets


def secret_findings(pod: PodView) -> list[Finding]:
    """One finding per Secret the pod would read (image pull secrets are allowed: the pod never sees them)."""
    return [
        Finding(
            "secretReference",
            "Secret reference",
            f"{ref.owner} must not read Secret {quote(ref.secret)}: it {_HOW[ref.kind]}, and this role may "
            "not read Secrets",
            (ref.path,),
        )
        for ref in pod.secrets
        if ref.kind != "imagePull"
    ]


def service_account_findings(pod: PodView, namespace: str | None, allowed: Collection[str]) -> list[Finding]:
    """A finding per service account name other than `default` that `allowed` does not list.

    `allowed` holds names ('builder', any namespace) and 'namespace/name' entries.
    """
    findings = []
    for path, name in pod.service_accounts:
        if (
            name == "default"
            or name in allowed
            or (namespace is not None and f"{namespace}/{name}" in allowed)
        ):
            continue
        field = path.rpartition(".")[2]
        findings.append(
            Finding(
                "serviceAccount",
                "service account not allowed",
                f'pod must not set {field}={quote(name)}: only "default" and the service accounts in '
                "[admission] service_accounts are allowed for this role",
                (path,),
            )
        )
    return findings
