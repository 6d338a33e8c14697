"""The experts tools' arguments, as the model reads them (types and descriptions in one place)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

ExpertNames = Annotated[
    list[str] | None,
    Field(
        description="Names of the experts to ask (see experts_list); omit to ask all of them.", max_length=32
    ),
]
BudgetUsd = Annotated[
    float | None,
    Field(description="Most this call may spend in USD; omit for the configured default.", ge=0),
]
TimeoutS = Annotated[
    float | None,
    Field(
        description="Seconds each expert may take (retries included); omit for the configured value.",
        gt=0,
        le=600,
    ),
]
Question = Annotated[str, Field(description="The question, self-contained.", min_length=1)]
Background = Annotated[
    str | None, Field(description="Background the experts need (code, facts, constraints).")
]
MinAgreement = Annotated[
    float | None,
    Field(
        description="Escalation mode: ask the cheapest experts first and add more only while agreement "
        "is below this (0..1, e.g. 0.75); the report says when it stopped early.",
        gt=0,
        le=1,
    ),
]
Judge = Annotated[
    bool,
    Field(
        description="Add a judge round: each expert says which other anonymised answers reach its "
        "conclusion; agreement is then measured on conclusions (costs one more call per expert)."
    ),
]
Synthesize = Annotated[
    bool | None,
    Field(
        description="Have a chairman expert write the final answer from the anonymised answers and the "
        "measured consensus, keeping every dissent visible and attributed (one more call, counted in the "
        "budget; the measured numbers stay separate). Omit for the configured default."
    ),
]
Chairman = Annotated[
    str | None,
    Field(
        description="The expert who writes the synthesis (see experts_list); omit for the configured "
        "chairman, else the first expert that answered.",
        max_length=64,
    ),
]
ThreadId = Annotated[
    str | None,
    Field(
        description="Continue a conversation: the thread_id of an earlier report of yours. The experts "
        "then see a short summary of the earlier rounds (their own answers and the consensus).",
        max_length=64,
    ),
]
Files = Annotated[
    list[str] | None,
    Field(
        description="Files to attach (paths inside the allowed folders, [policy] scan_roots): text files "
        "are inlined with secrets redacted; PNG/JPEG/GIF/WebP images are sent to experts whose provider "
        "takes images.",
        max_length=64,
    ),
]

__all__ = [
    "Background",
    "BudgetUsd",
    "Chairman",
    "ExpertNames",
    "Files",
    "Judge",
    "MinAgreement",
    "Question",
    "Synthesize",
    "ThreadId",
    "TimeoutS",
]
