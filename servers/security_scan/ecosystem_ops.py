"""Package ecosystems: their OSV names, version orderings, name normalisation and package URLs.

Version orderings come from `univers` (aboutcode.org, the purl authors' companion library): PEP 440
for PyPI, semver for npm and crates.io, Composer, Go (a `v` prefix and pseudo-versions), Maven's
ComparableVersion, RubyGems, Debian (epochs, `~`), Alpine (apk) and RPM. Writing any of them by hand
would be a worse copy of a maintained one.
"""

from __future__ import annotations

from dataclasses import dataclass

from packageurl import PackageURL
from packaging.utils import canonicalize_name
from univers import versions as uv

# OSV ecosystem name (the part before any ":release") -> univers version class.
_ORDERING: dict[str, type[uv.Version]] = {
    "PyPI": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "crates.io": uv.SemverVersion,
    "Packagist": uv.ComposerVersion,
    "Go": uv.GolangVersion,
    "Maven": uv.MavenVersion,
    "RubyGems": uv.RubygemsVersion,
    "Debian": uv.DebianVersion,
    "Alpine": uv.AlpineLinuxVersion,
    "Red Hat": uv.RpmVersion,
    "Rocky Linux": uv.RpmVersion,
    "AlmaLinux": uv.RpmVersion,
    "openSUSE": uv.RpmVersion,
}
_PURL_TYPE = {
    "PyPI": "pypi",
    "npm": "npm",
    "crates.io": "cargo",
    "Packagist": "composer",
    "Go": "golang",
    "Maven": "maven",
    "RubyGems": "gem",
    "Debian": "deb",
    "Alpine": "apk",
    "Red Hat": "rpm",
}
LANGUAGE_ECOSYSTEMS = ("PyPI", "npm", "Go", "crates.io", "Maven", "RubyGems", "Packagist")


class UnknownVersion(ValueError):
    """A version string the ecosystem's ordering cannot read: it cannot be checked."""


def base(ecosystem: str) -> str:
    """`Debian:12` -> `Debian`; `npm` -> `npm`."""
    return ecosystem.split(":", 1)[0]


def ordering(ecosystem: str) -> type[uv.Version] | None:
    return _ORDERING.get(base(ecosystem))


def parse_version(ecosystem: str, text: str) -> uv.Version:
    """The version in the ecosystem's own ordering.

    Raises:
        UnknownVersion: not a version of this ecosystem (a git ref, a path, a range).
    """
    cls = ordering(ecosystem)
    if cls is None:
        raise UnknownVersion(f"no version ordering for ecosystem {ecosystem!r}")
    try:
        return cls(text.strip())
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise UnknownVersion(f"{text!r} is not a {ecosystem} version") from exc


def semver(text: str) -> uv.Version:
    """A version in a range of OSV type SEMVER (a leading `v` tolerated, as Go writes it)."""
    try:
        return uv.SemverVersion(text.strip().lstrip("vV"))
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise UnknownVersion(f"{text!r} is not a semantic version") from exc


def normalise_name(ecosystem: str, name: str) -> str:
    """The name as advisories key it: PEP 503 for PyPI, lower case for Packagist, as written elsewhere."""
    eco = base(ecosystem)
    if eco == "PyPI":
        return canonicalize_name(name)
    if eco == "Packagist":
        return name.lower()
    return name


def query_version(ecosystem: str, version: str) -> str:
    """The version as OSV records spell it: Go and Packagist without the leading `v`."""
    if base(ecosystem) in ("Go", "Packagist") and version[:1] in ("v", "V") and version[1:2].isdigit():
        return version[1:]
    return version


@dataclass(frozen=True, slots=True)
class Coordinates:
    """Where a package is described: ecosystem, name, version; `distro` for OS packages."""

    ecosystem: str
    name: str
    version: str | None
    distro: str | None = None


def purl(c: Coordinates) -> str:
    """The package URL (purl-spec) of a package; `pkg:generic/...` for an ecosystem purl has no type for."""
    eco = base(c.ecosystem)
    kind = _PURL_TYPE.get(eco, "generic")
    namespace, name = None, c.name
    qualifiers: dict[str, str] = {}
    if eco == "Maven" and ":" in c.name:
        namespace, name = c.name.split(":", 1)
    elif eco in ("npm", "Packagist", "Go") and "/" in c.name:
        namespace, name = c.name.rsplit("/", 1)
    elif eco == "PyPI":
        name = canonicalize_name(c.name)
    elif eco in ("Debian", "Alpine", "Red Hat"):
        namespace = {"Debian": "debian", "Alpine": "alpine", "Red Hat": "redhat"}[eco]
        distro = c.distro
        if distro is None and ":" in c.ecosystem:  # Debian:12 -> debian-12, Alpine:v3.19 -> alpine-3.19
            distro = f"{namespace}-{c.ecosystem.split(':', 1)[1].lstrip('v')}"
        if distro:
            qualifiers["distro"] = distro
    return str(
        PackageURL(
            type=kind, namespace=namespace, name=name, version=c.version, qualifiers=qualifiers or None
        )
    )
