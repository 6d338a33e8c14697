"""What a server created, and for whom: the ledger a destructive tool asks before it touches
anything it did not make.

What a remote system says about its own objects proves nothing: any image can carry
`code.managed=true` and every container made from it inherits the label; an Alertmanager
silence's `createdBy` is free text. So a server records the id of each thing it creates with the
identity that asked for it, and a non-admin caller may only act on what the ledger says that
caller created. The deployment server keeps one for Docker containers, images, networks, volumes
and Compose projects (`[deployment] ownership_file`), the monitoring server one for silences
(`[monitoring] silence_ledger_file`). A ledger lives in memory, and in its file when configured
(JSON written atomically, mode 0600), so a restarted server still knows what it made.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from shared.errors import PermissionDenied

__all__ = ["OwnershipLedger"]


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

    def ids(self, prefix: str = "") -> set[str]:
        """The recorded ids that start with `prefix`, without it."""
        with self._lock:
            return {key[len(prefix) :] for key in self._owners if key.startswith(prefix)}

    def require(
        self,
        thing_id: str,
        *,
        caller: str,
        admin: bool,
        what: str,
        verb: str,
        shown: str,
        proof: str = "its labels prove",
    ) -> None:
        """Refuse unless the caller created `thing_id` through this server (admins may act on anything).

        `what` and `shown` name the thing in the refusal; `proof` says what the remote system
        offers instead that proves nothing ("its labels prove", "its createdBy proves").
        """
        if admin:
            return
        owner = self.owner_of(thing_id)
        if owner is None:
            raise PermissionDenied(
                f"{what} {shown!r} was not created through this server ({proof} nothing); "
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
