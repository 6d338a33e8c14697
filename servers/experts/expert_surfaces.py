"""The experts server's prompt and completions (behind the guard, like its tools).

Prompt: `second_opinion(question)` — ask the circle and read its consensus honestly. Completions:
expert names for `experts` and `chairman`, from the roster.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from servers.experts.roster import Roster
from shared.toolkit import ServerKit

__all__ = ["expert_surfaces"]

ASK = "experts:ask"


def expert_surfaces(kit: ServerKit, roster: Roster) -> None:
    """Register the prompt and the completion handler on `kit`."""

    @kit.prompt("second_opinion", "Get a second opinion", permission=ASK)
    def second_opinion(question: Annotated[str, Field(description="The question to ask")]) -> str:
        """Put a question to several models and report how far they agree, not just an answer."""
        return (
            f"Get a second opinion on: {question}\n"
            "1. experts_list: which experts are available, and what each costs.\n"
            "2. experts_ask with the question (synthesize=true for a written synthesis; a thread_id to "
            "follow up later).\n"
            "3. Report the consensus answer with its agreement figure; if agreement is low or the "
            "clusters are untrustworthy, say so plainly and give the dissenting answers and who gave "
            "them; name the cost."
        )

    @kit.completion(permission=ASK)
    async def complete(ref: Any, argument: Any, context: Any) -> list[str]:
        if argument.name not in ("experts", "chairman"):
            return []
        return sorted(e.name for e in roster.experts if e.name.startswith(argument.value))
