"""A small server built on `shared/` only, to prove the library end to end.

Its tools cover what the guard must handle: a read tool, a write and an admin tool (registered only
when `[policy.tiers] demo` allows), a tool that reports who called it, one that fails as a tool
error, one that crashes (a bug) after logging, and a costly one.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from shared.auth import current_identity
from shared.config import SuiteConfig
from shared.errors import InvalidArgument
from shared.policy import Tier
from shared.runtime import Runtime
from shared.toolkit import ServerKit

log = logging.getLogger("demo")


class Echo(BaseModel):
    """What `demo_echo` sends back."""

    text: str = Field(description="The text that was sent.")
    length: int = Field(description="Its length in characters.")


class Caller(BaseModel):
    """Who made the call, as the server sees it."""

    subject: str
    role: str
    method: str
    scopes: list[str]


def build_server(config: SuiteConfig, *, runtime: Runtime | None = None, **_backends: Any) -> MCPServer[Any]:
    """The demo server: echo, whoami, fail, crash, costly, write and admin tools."""
    kit = ServerKit("demo", config, runtime, instructions="A demo server that proves the shared library.")

    @kit.tool(name="demo_echo", title="Echo", permission="monitoring:read", open_world=False)
    async def demo_echo(text: Annotated[str, Field(description="Text to send back.")]) -> Echo:
        """Send the text back with its length."""
        log.info("echo called")
        return Echo(text=text, length=len(text))

    @kit.tool(name="demo_whoami", title="Who am I", permission="monitoring:read", open_world=False)
    async def demo_whoami() -> Caller:
        """Report the identity this call runs as."""
        who = current_identity()
        return Caller(subject=who.subject, role=who.role, method=who.method, scopes=sorted(who.scopes))

    @kit.tool(name="demo_fail", title="Fail", permission="monitoring:read", open_world=False)
    async def demo_fail(reason: Annotated[str, Field(description="Why to fail.")] = "asked to") -> Echo:
        """Fail with a tool error the model can act on."""
        raise InvalidArgument(f"failing because {reason}; call demo_echo instead")

    @kit.tool(name="demo_crash", title="Crash", permission="monitoring:read", open_world=False)
    async def demo_crash() -> Echo:
        """Log on every channel a careless server might use, then crash (a bug)."""
        log.warning("about to crash")
        sys.stderr.write("demo_crash: raw stderr line\n")
        raise RuntimeError("demo bug: secret internals")

    @kit.tool(name="demo_costly", title="Costly", permission="monitoring:read", cost=2, open_world=False)
    async def demo_costly() -> Echo:
        """A call that costs two cells of every quota."""
        return Echo(text="costly", length=6)

    @kit.tool(
        name="demo_write", title="Write", permission="deployment:write", tier=Tier.WRITE, open_world=False
    )
    async def demo_write(value: Annotated[str, Field(description="What to write.")]) -> Echo:
        """Pretend to change something (needs deployment:write)."""
        return Echo(text=value, length=len(value))

    @kit.tool(
        name="demo_admin", title="Admin", permission="deployment:admin", tier=Tier.ADMIN, open_world=False
    )
    async def demo_admin() -> Echo:
        """Pretend to do something only an admin may do."""
        return Echo(text="admin", length=5)

    return kit.server
