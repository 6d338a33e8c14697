"""Loading the suite's configuration: one TOML file plus `CODE_MCP_<SECTION>__<FIELD>` overrides.

Read only when `load_config` is called (never at import), validated once into a
`shared.settings.SuiteConfig`; every problem becomes a `ConfigError` that names the file (or
environment variable), the field and what is wrong.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from shared.errors import ConfigError
from shared.settings import SuiteConfig, describe_errors

__all__ = ["CONFIG_ENV", "check_config", "load_config", "with_roots"]

CONFIG_ENV: Final = "CODE_MCP_CONFIG"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"configuration file {str(path)!r} does not exist (from --config or {CONFIG_ENV})"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"configuration path {str(path)!r} is a folder; give the TOML file") from None
    except PermissionError:
        raise ConfigError(f"configuration file {str(path)!r} cannot be read: permission denied") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


# Path settings of the common sections; relative values in the file are taken from its folder.
_PATH_FIELDS: Final = (
    ("audit", "path"),
    ("audit", "key_file"),
    ("redis", "url_file"),
    ("output", "cursor_key_file"),
    ("auth", "jwt", "public_key_file"),
    ("auth", "jwt", "jwks_file"),
    ("policy", "scan_roots"),
    ("policy", "docker_mount_roots"),
)


def _anchor_paths(data: dict[str, Any], folder: Path) -> None:
    """Make relative paths of the common sections relative to the configuration file's folder."""

    def anchor(value: Any) -> Any:
        if isinstance(value, str) and value and not Path(value).is_absolute():
            return str(folder / value)
        return value

    for *parents, name in _PATH_FIELDS:
        node: Any = data
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and name in node:
            value = node[name]
            node[name] = [anchor(v) for v in value] if isinstance(value, list) else anchor(value)


def load_config(path: Path | str | None = None) -> SuiteConfig:
    """Read and validate the configuration.

    Args:
        path: the TOML file; when None, `CODE_MCP_CONFIG` names it; when that is unset too, only
            the defaults and the environment are used.

    Raises:
        ConfigError: the file is missing or not TOML, or a value is invalid (every problem listed).
    """
    if path is None and os.environ.get(CONFIG_ENV):
        path = os.environ[CONFIG_ENV]
    source = Path(path) if path is not None else None
    file_data = _read_toml(source) if source is not None else {}
    if source is not None:
        _anchor_paths(file_data, source.resolve().parent)
    try:
        config = SuiteConfig(**file_data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, source, file_data=file_data)) from None
    config._source = source
    return config


def with_roots(config: SuiteConfig, roots: Sequence[Path | str]) -> SuiteConfig:
    """`config` with more folders in `[policy] scan_roots` (`code-mcp serve … --root DIR`).

    Each folder must exist and is resolved (symlinks followed) before it is added, so a root given
    on the command line is exactly as strict as one in the file; duplicates are dropped.

    Raises:
        ConfigError: a folder does not exist or is not a folder.
    """
    if not roots:
        return config
    added: list[Path] = []
    for root in roots:
        if "${" in str(root):
            raise ConfigError(
                f"--root {str(root)!r}: the client passed this variable unexpanded; hosts that do not "
                "expand ${workspaceFolder} (Claude Desktop) need the folder's path written out"
            )
        path = Path(root).expanduser()
        if not path.is_dir():
            raise ConfigError(f"--root {str(root)!r}: not an existing folder")
        added.append(path.resolve(strict=True))
    current = list(config.policy.scan_roots)
    merged = current + [p for p in dict.fromkeys(added) if p not in current]
    policy = config.policy.model_copy(update={"scan_roots": merged})
    return config.model_copy(update={"policy": policy})


def check_config(path: Path | str | None, sections: Mapping[str, type[BaseModel]]) -> SuiteConfig:
    """`load_config`, then validate each server section with its model (for `config check`).

    Raises:
        ConfigError: listing every problem found, in the common sections or any server's.
    """
    config = load_config(path)
    problems: list[str] = []
    for name, model in sections.items():
        try:
            config.section(name, model)
        except ConfigError as exc:
            problems.extend(str(exc).splitlines()[1:])
    if problems:
        raise ConfigError("invalid configuration:\n" + "\n".join(problems))
    return config
