"""What this server created on the Docker engine, and for whom: the ledger `docker_stop`,
`docker_remove` (and the image, network, volume and Compose tools) ask before they touch anything.

A label proves nothing: any image can carry `code.managed=true` and every container made from it
inherits the label. So the server records the id of each container (and image) it creates with
the identity that asked for it, and a non-admin caller may only act on what the ledger says that
caller created. The ledger lives in memory, and in `[deployment] ownership_file` when configured
(a JSON file written atomically, mode 0600), so a restarted server still knows what it made.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Literal

from shared.errors import PermissionDenied

__all__ = ["OwnershipLedger"]

Thing = Literal["container", "image", "network", "volume", "compose project"]


class OwnershipLedger:
    """Ids this server created → the subject that created them. Thread-safe."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._owners: dict[str, str] = {}
        self._lock = threading.Lock()
        if path is not None and path.exists():
            try:
                loaded = json.loads(path.read_text())
            except (OSError, ValueError):
                loaded = {}
            if isinstance(loaded, dict):
                self._owners = {str(k): str(v) for k, v in loaded.items() if isinstance(v, str)}

    def record(self, thing_id: str, owner: str) -> None:
        """Remember that `owner` created `thing_id`."""
        with self._lock:
            self._owners[thing_id] = owner
            self._save()

    def forget(self, thing_id: str) -> None:
        """The thing is gone (removed)."""
        with self._lock:
            if self._owners.pop(thing_id, None) is not None:
                self._save()

    def owner_of(self, thing_id: str) -> str | None:
        """Who created `thing_id` through this server (None: not this server)."""
        with self._lock:
            return self._owners.get(thing_id)

    def managed(self, thing_id: str) -> bool:
        """Whether this server created `thing_id`."""
        return self.owner_of(thing_id) is not None

    def require(self, thing_id: str, *, caller: str, admin: bool, what: Thing, verb: str, shown: str) -> None:
        """Refuse unless the caller created `thing_id` through this server (admins may act on anything)."""
        if admin:
            return
        owner = self.owner_of(thing_id)
        if owner is None:
            raise PermissionDenied(
                f"{what} {shown!r} was not created through this server (its labels prove nothing); "
                f"only an admin may {verb} it"
            )
        if owner != caller:
            raise PermissionDenied(
                f"{what} {shown!r} was created by another caller; only they or an admin may {verb} it"
            )

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self._owners, handle)
        temporary.replace(self.path)
