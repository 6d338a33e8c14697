"""Where a chart comes from, and the one archive a plan holds of it.

A chart is read once, at plan time, into a gzipped tar held by the plan itself (so a plan made on
one replica applies on another, and nothing on disk can change between plan and apply):

- a local folder inside the chart roots: packed here, deterministically (sorted, zero times and
  owners), refusing symlinks, devices and anything past the size and file bounds;
- a local `.tgz` inside the roots, or one fetched from a chart repository in
  `[policy] chart_repositories` (its `index.yaml` and the archive are fetched here, each
  URL checked against that allowlist and the SSRF rules, the index digest verified);
- an OCI reference (`oci://host/path/chart`) whose registry is in the allowlist, pulled by helm.

Every archive is then opened in memory and refused if a member escapes (`..`, absolute paths,
links, devices) or it holds no `Chart.yaml`. Its sha256 is the chart digest the plan is bound to.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

import httpx

from servers.deployment.settings import HelmSettings
from shared.errors import InvalidArgument, NotFound, PermissionDenied, UpstreamUnavailable
from shared.safe_yaml import load_documents
from shared.validation import UrlRule, path_within, resolve_url, safe_arg

__all__ = ["ChartArchive", "ChartSources", "archive_from_bytes"]

_INDEX_MAX_BYTES: Final = 5_000_000


@dataclass(frozen=True)
class ChartArchive:
    """One chart, as the plan holds it."""

    data: bytes
    digest: str
    name: str
    version: str
    source: str
    crds: list[dict[str, Any]] = field(default_factory=list)


class ChartPaths:
    """The part of `shared.policy.Policy` local charts are checked with."""

    def __init__(self, settings: HelmSettings, scan_roots: list[Path]) -> None:
        self.roots = list(settings.chart_roots) or list(scan_roots)

    def resolve(self, chart: str) -> Path:
        if not self.roots:
            raise PermissionDenied(
                "local charts are not allowed: start the server with --root DIR, or configure "
                "[deployment.helm] chart_roots or [policy] scan_roots"
            )
        return path_within(chart, self.roots, must_exist=True, what="chart path")


class ChartSources:
    """Read a chart reference into a `ChartArchive` under `[deployment.helm]`'s bounds and the policy's
    `chart_repositories` allowlist."""

    def __init__(self, settings: HelmSettings, scan_roots: list[Path], repositories: list[str]) -> None:
        self.settings = settings
        self.paths = ChartPaths(settings, scan_roots)
        self.rules = [_rule(entry) for entry in repositories]

    # ------------------------------------------------------------------ local

    def local(self, chart: str) -> ChartArchive:
        safe_arg(chart, what="chart")
        path = self.paths.resolve(chart)
        if path.is_dir():
            data = self._pack(path)
        elif path.is_file() and path.name.endswith((".tgz", ".tar.gz")):
            if path.stat().st_size > self.settings.max_chart_bytes:
                raise InvalidArgument(
                    f"chart archive {chart!r} is larger than {self.settings.max_chart_bytes} bytes"
                )
            data = path.read_bytes()
        else:
            raise InvalidArgument(f"chart {chart!r} must be a chart folder or a .tgz archive")
        return archive_from_bytes(data, source=str(path), settings=self.settings)

    def _pack(self, root: Path) -> bytes:
        """A deterministic .tgz of the chart folder; links and special files are refused."""
        entries: list[tuple[str, Path]] = []
        total = 0
        for folder, dirs, files in os.walk(root, followlinks=False):
            dirs.sort()
            for name in sorted(dirs + files):
                full = Path(folder) / name
                mode = full.lstat().st_mode
                relative = full.relative_to(root).as_posix()
                if stat.S_ISLNK(mode):
                    raise InvalidArgument(
                        f"chart file {relative!r} is a symbolic link; charts are read without links (a link "
                        "could carry a file from outside the allowed roots into the release)"
                    )
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    raise InvalidArgument(f"chart file {relative!r} is a device, FIFO or socket")
                if stat.S_ISREG(mode):
                    total += full.stat().st_size
                    entries.append((relative, full))
                if len(entries) > self.settings.max_chart_files:
                    raise InvalidArgument(f"the chart holds more than {self.settings.max_chart_files} files")
                if total > self.settings.max_chart_bytes * 10:
                    raise InvalidArgument("the chart's files are larger than the allowed chart size")
        if "Chart.yaml" not in {relative for relative, _ in entries}:
            raise InvalidArgument(f"{root.name!r} is not a chart folder: it has no Chart.yaml")
        buffer = io.BytesIO()
        with (
            gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for relative, full in sorted(entries):
                content = full.read_bytes()
                info = tarfile.TarInfo(f"{root.name}/{relative}")
                info.size, info.mode, info.mtime = len(content), 0o644, 0
                tar.addfile(info, io.BytesIO(content))
        data = buffer.getvalue()
        if len(data) > self.settings.max_chart_bytes:
            raise InvalidArgument(f"the packed chart is larger than {self.settings.max_chart_bytes} bytes")
        return data

    # ------------------------------------------------------------------ repositories

    async def from_repository(self, repo: str, chart: str, version: str | None) -> ChartArchive:
        """Fetch `chart` (at `version`, else the newest) from the chart repository at `repo`."""
        safe_arg(chart, what="chart")
        index_url = repo.rstrip("/") + "/index.yaml"
        index = await self._fetch(index_url, max_bytes=_INDEX_MAX_BYTES)
        documents = load_documents(
            index.decode(errors="replace"), max_bytes=_INDEX_MAX_BYTES, max_documents=1
        )
        entries = (
            (documents[0] or {}).get("entries") if documents and isinstance(documents[0], dict) else None
        )
        versions = entries.get(chart) if isinstance(entries, dict) else None
        if not isinstance(versions, list) or not versions:
            raise NotFound(f"chart {chart!r} is not in the repository {repo!r}")
        chosen = next(
            (
                v
                for v in versions
                if isinstance(v, dict) and (version is None or str(v.get("version")) == version)
            ),
            None,
        )
        if chosen is None:
            raise NotFound(f"chart {chart!r} has no version {version!r} in {repo!r}")
        urls = chosen.get("urls")
        if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
            raise UpstreamUnavailable(f"the repository index lists no archive for {chart!r}")
        archive_url = urljoin(repo.rstrip("/") + "/", urls[0])
        data = await self._fetch(archive_url, max_bytes=self.settings.max_chart_bytes)
        expected = chosen.get("digest")
        if isinstance(expected, str) and expected and hashlib.sha256(data).hexdigest() != expected.lower():
            raise PermissionDenied(f"chart {chart!r} from {repo!r} does not match the digest its index lists")
        return archive_from_bytes(data, source=archive_url, settings=self.settings)

    async def _fetch(self, url: str, *, max_bytes: int) -> bytes:
        if not self.rules:
            raise PermissionDenied("no chart repository is allowed: configure [policy] chart_repositories")
        try:
            checked = await resolve_url(url, self.rules)
        except InvalidArgument as exc:
            raise PermissionDenied(f"chart source refused: {exc}") from None
        parts = urlsplit(checked.url)
        headers = {"Host": parts.netloc}
        extensions = {"sni_hostname": checked.host} if parts.scheme == "https" else {}
        chunks: list[bytes] = []
        size = 0
        try:
            async with (
                httpx.AsyncClient(timeout=30, follow_redirects=False, trust_env=False) as client,
                client.stream("GET", checked.pinned(), headers=headers, extensions=extensions) as got,
            ):
                if got.status_code != 200:
                    raise UpstreamUnavailable(f"{url}: the chart repository answered {got.status_code}")
                async for chunk in got.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise InvalidArgument(f"{url} is larger than {max_bytes} bytes")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{url}: cannot fetch it ({type(exc).__name__})") from None
        return b"".join(chunks)

    def check_oci(self, reference: str) -> str:
        """An `oci://host[:port]/path/chart` reference whose registry and path the allowlist admits."""
        safe_arg(reference, what="chart")
        if not self.rules:
            raise PermissionDenied("no OCI registry is allowed: configure [policy] chart_repositories")
        as_https = "https://" + reference.removeprefix("oci://")
        try:
            from shared.validation import check_url

            check_url(as_https, [r for r in self.rules if r.scheme == "https"])
        except InvalidArgument as exc:
            raise PermissionDenied(f"chart source refused: {exc}") from None
        return reference


def _rule(entry: str) -> UrlRule:
    return UrlRule.parse("https://" + entry.removeprefix("oci://") if entry.startswith("oci://") else entry)


def archive_from_bytes(data: bytes, *, source: str, settings: HelmSettings) -> ChartArchive:
    """Check a chart archive in memory; its name, version, digest and the CRDs it would install."""
    if len(data) > settings.max_chart_bytes:
        raise InvalidArgument(f"the chart archive is larger than {settings.max_chart_bytes} bytes")
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 - read below, in memory
        members = tar.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise InvalidArgument(f"{source}: not a gzipped chart archive ({type(exc).__name__})") from None
    if len(members) > settings.max_chart_files:
        raise InvalidArgument(f"{source}: the archive holds more than {settings.max_chart_files} files")
    metadata: dict[str, Any] | None = None
    crds: list[dict[str, Any]] = []
    unpacked = 0
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise InvalidArgument(
                f"{source}: archive member {member.name[:120]!r} is a link, device or escapes"
            )
        unpacked += member.size
        if unpacked > settings.max_chart_bytes * 10:
            raise InvalidArgument(f"{source}: the archive unpacks to more than the allowed chart size")
        if not member.isfile():
            continue
        parts = path.parts
        if len(parts) == 2 and parts[1] == "Chart.yaml":
            metadata = _yaml_one(_read(tar, member), source)
        elif "crds" in parts[1:-1] and parts[-1].endswith((".yaml", ".yml", ".json")):
            text = _read(tar, member).decode(errors="replace")
            docs = load_documents(text, max_bytes=settings.max_chart_bytes, max_documents=100)
            crds += [d for d in docs if isinstance(d, dict)]
    if metadata is None:
        raise InvalidArgument(f"{source}: the archive has no <chart>/Chart.yaml")
    name, version = str(metadata.get("name", "")), str(metadata.get("version", ""))
    if not name or not version:
        raise InvalidArgument(f"{source}: Chart.yaml needs a name and a version")
    digest = hashlib.sha256(data).hexdigest()
    return ChartArchive(data=data, digest=digest, name=name, version=version, source=source, crds=crds)


def _read(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    handle = tar.extractfile(member)
    return handle.read() if handle is not None else b""


def _yaml_one(data: bytes, source: str) -> dict[str, Any]:
    docs = load_documents(data.decode(errors="replace"), max_bytes=1_000_000, max_documents=1)
    if not docs or not isinstance(docs[0], dict):
        raise InvalidArgument(f"{source}: Chart.yaml is not a mapping")
    return docs[0]
