"""Failures of the scan domain; `server.py` maps them onto the suite's tool errors."""

from __future__ import annotations


class ScanError(Exception):
    """A scan request that the caller can correct; the message says how."""


class PathRefused(ScanError):
    """The path is not a regular file or directory the scan may read."""


class UnknownScan(ScanError):
    """No finished scan or finding has this id."""
