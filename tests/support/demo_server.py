"""A small server built on `shared/` only, to prove the library end to end.

Its tools cover what the guard and the kit must handle: a read tool, a write and an admin tool
(registered only when `[policy.tiers] demo` allows), a tool that reports who called it, one that
fails as a tool error, one refused by the policy from inside, one that crashes (a bug) after
logging, a costly one, and a blocking one that pages.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel, Field

from shared.calls import current_identity
from shared.errors import InvalidArgument, PermissionDenied
from shared.paging import Cursor, Limit, Page, page
from shared.runtime import Runtime
from shared.settings import SuiteConfig
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


def build_server(
    config: SuiteConfig, *, runtime: Runtime | None = None, name: str = "demo"
) -> MCPServer[Any]:
    """The demo server: echo, whoami, fail, deny, crash, costly, list, write and admin tools.

    `name` lets a test mount two of them side by side as different servers.
    """
    kit = ServerKit(name, config, runtime, instructions="A demo server that proves the shared library.")
    reads = kit.toolset(permission="monitoring:read", open_world=False)
    writes = kit.toolset(permission="deployment:write", open_world=False)
    admin = kit.toolset(permission="deployment:admin", open_world=False)

    @reads.tool("demo_echo", "Echo")
    async def demo_echo(text: Annotated[str, Field(description="Text to send back.")]) -> Echo:
        """Send the text back with its length."""
        log.info("echo called")
        return Echo(text=text, length=len(text))

    @reads.tool("demo_whoami", "Who am I")
    async def demo_whoami() -> Caller:
        """Report the identity this call runs as."""
        who = current_identity()
        return Caller(subject=who.subject, role=who.role, method=who.method, scopes=sorted(who.scopes))

    @reads.tool("demo_fail", "Fail")
    async def demo_fail(reason: Annotated[str, Field(description="Why to fail.")] = "asked to") -> Echo:
        """Fail with a tool error the model can act on."""
        raise InvalidArgument(f"failing because {reason}; call demo_echo instead")

    @reads.tool("demo_deny", "Deny")
    def demo_deny() -> Echo:
        """Refuse from inside the tool, as a policy check in the domain code does."""
        raise PermissionDenied("the policy does not allow this here; ask an operator")

    @reads.tool("demo_crash", "Crash")
    async def demo_crash() -> Echo:
        """Log on every channel a careless server might use, then crash (a bug)."""
        log.warning("about to crash")
        sys.stderr.write("demo_crash: raw stderr line\n")
        raise RuntimeError("demo bug: secret internals")

    @reads.tool("demo_costly", "Costly", cost=2)
    async def demo_costly() -> Echo:
        """A call that costs two cells of every quota."""
        return Echo(text="costly", length=6)

    @reads.tool("demo_numbers", "Numbers")
    def demo_numbers(
        count: Annotated[int, Field(description="How many numbers.", ge=0, le=10_000)] = 100,
        parity: Annotated[str, Field(description="'all', 'even' or 'odd'.")] = "all",
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[int]:
        """Count from 0, a page at a time (a blocking tool, run in a worker thread)."""
        numbers = [n for n in range(count) if parity == "all" or (n % 2 == 0) == (parity == "even")]
        return page(numbers)

    @writes.tool("demo_write", "Write")
    async def demo_write(value: Annotated[str, Field(description="What to write.")]) -> Echo:
        """Pretend to change something (needs deployment:write)."""
        return Echo(text=value, length=len(value))

    @admin.tool("demo_admin", "Admin")
    async def demo_admin() -> Echo:
        """Pretend to do something only an admin may do."""
        return Echo(text="admin", length=5)

    return kit.server
