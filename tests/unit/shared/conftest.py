"""The pure half of `shared/` needs no compiled core: these fixtures let its unit tests run alone
(`pytest --confcutdir=tests/unit/shared tests/unit/shared`) before `rust_core` is built."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
