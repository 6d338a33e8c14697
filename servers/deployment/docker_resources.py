"""Docker networks and volumes: list them all; create and remove only the ones this server manages.

A network this server creates is `internal` by default (no route out of the host); a volume uses
the `local` driver with no driver options at all — `local` options can bind-mount any host path
(`type=none,o=bind,device=/etc`), which would walk around the mount roots.
"""

from __future__ import annotations

from typing import Any

from servers.deployment.docker_hardening import MANAGED_LABEL, OWNER_LABEL, container_ref
from servers.deployment.docker_ops import DockerOps, docker_errors
from servers.deployment.models import NetworkSummary, ResourceAction, VolumeSummary
from shared.errors import InvalidArgument

__all__ = ["DockerResources"]


class DockerResources:
    """Networks and volumes on the engine `docker` drives, under its ownership ledger."""

    def __init__(self, docker: DockerOps) -> None:
        self.docker = docker

    # ------------------------------------------------------------------ networks

    def networks(self) -> list[NetworkSummary]:
        with docker_errors("list networks"):
            raw: list[dict[str, Any]] = self.docker.client.api.networks()
        rows = [
            NetworkSummary(
                id=str(item["Id"])[:12],
                name=str(item.get("Name", "")),
                driver=str(item.get("Driver", "")),
                internal=bool(item.get("Internal")),
                managed=self.docker.ledger.managed(str(item["Id"])),
            )
            for item in raw
        ]
        return sorted(rows, key=lambda row: row.name)

    def create_network(self, name: str, *, owner: str, internal: bool = True) -> ResourceAction:
        """A bridge network labelled and recorded as `owner`'s (internal unless asked otherwise)."""
        name = container_ref(name, what="network")
        with docker_errors(f"create network {name}"):
            created = self.docker.client.api.create_network(
                name,
                driver="bridge",
                internal=internal,
                labels={MANAGED_LABEL: "true", OWNER_LABEL: owner[:63]},
                check_duplicate=True,
            )
        network_id = str(created["Id"])
        self.docker.ledger.record(network_id, owner)
        return ResourceAction(kind="network", name=name, id=network_id[:12], action="created")

    def remove_network(self, name: str, *, caller: str, admin: bool) -> ResourceAction:
        ref = container_ref(name, what="network")
        with docker_errors(f"network {ref}"):
            attrs: dict[str, Any] = self.docker.client.api.inspect_network(ref)
        network_id = str(attrs["Id"])
        self.docker.ledger.require(
            network_id, caller=caller, admin=admin, what="network", verb="remove", shown=ref
        )
        with docker_errors(f"remove network {ref}"):
            self.docker.client.api.remove_network(network_id)
        self.docker.ledger.forget(network_id)
        return ResourceAction(
            kind="network", name=str(attrs.get("Name", ref)), id=network_id[:12], action="removed"
        )

    # ------------------------------------------------------------------ volumes

    def volumes(self) -> list[VolumeSummary]:
        with docker_errors("list volumes"):
            raw = self.docker.client.api.volumes() or {}
        rows = [
            VolumeSummary(
                name=str(item.get("Name", "")),
                driver=str(item.get("Driver", "")),
                managed=self.docker.ledger.managed(_volume_key(str(item.get("Name", "")))),
            )
            for item in raw.get("Volumes") or []
        ]
        return sorted(rows, key=lambda row: row.name)

    def create_volume(self, name: str, *, owner: str) -> ResourceAction:
        """A `local` volume without driver options, labelled and recorded as `owner`'s."""
        name = container_ref(name, what="volume")
        client = self.docker.client
        try:
            client.api.inspect_volume(name)
            exists = True
        except Exception:
            exists = False
        if exists:
            # The engine would hand back the existing volume as if it were new: refuse to adopt it.
            raise InvalidArgument(
                f"volume {name!r} already exists; pick another name (an existing volume is never adopted)"
            )
        with docker_errors(f"create volume {name}"):
            client.api.create_volume(
                name, driver="local", driver_opts={}, labels={MANAGED_LABEL: "true", OWNER_LABEL: owner[:63]}
            )
        self.docker.ledger.record(_volume_key(name), owner)
        return ResourceAction(kind="volume", name=name, id=name, action="created")

    def remove_volume(self, name: str, *, caller: str, admin: bool) -> ResourceAction:
        name = container_ref(name, what="volume")
        with docker_errors(f"volume {name}"):
            self.docker.client.api.inspect_volume(name)
        key = _volume_key(name)
        self.docker.ledger.require(key, caller=caller, admin=admin, what="volume", verb="remove", shown=name)
        with docker_errors(f"remove volume {name}"):
            self.docker.client.api.remove_volume(name)
        self.docker.ledger.forget(key)
        return ResourceAction(kind="volume", name=name, id=name, action="removed")


def _volume_key(name: str) -> str:
    # Volumes have no id but their name; the prefix keeps them apart from container and image ids.
    return f"volume:{name}"
