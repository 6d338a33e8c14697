"""Silences: plan one (the preview a person confirms), create it, expire one this server created.

`plan_silence` is the whole decision — matchers parsed and refused when they would silence
everything, the duration bounded, the alerts it would mute counted by asking Alertmanager itself
(its `filter` uses the very matcher semantics a silence uses) — and has no effect; `create_silence`
sends exactly that plan. A confirmation step (elicitation) fits between the two.

The ledger records which silences this server created and for whom: Alertmanager's `createdBy` is
free text anyone with API access can write, so it proves nothing.
"""

from __future__ import annotations

import re
from collections import Counter

from servers.monitoring.am_client import AlertmanagerClient
from servers.monitoring.am_matchers import from_api, parse_matchers, refuse_silencing_everything
from servers.monitoring.am_models import PreviewAlert, SilenceExpired, SilencePlan, SilenceResult
from servers.monitoring.am_ops import to_alert
from servers.monitoring.time_args import iso, parse_duration
from shared.errors import InvalidArgument, NotFound
from shared.ownership import OwnershipLedger

_SILENCE_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_EXAMPLES = 10
_MAX_COMMENT = 1000


def silence_key(alertmanager: str, silence_id: str) -> str:
    """The ledger's key for one silence on one Alertmanager."""
    return f"{alertmanager}/{silence_id.lower()}"


def _check_comment(comment: str) -> str:
    text = comment.strip()
    if not text:
        raise InvalidArgument("say why in comment, e.g. 'deploying api v2.3, ticket OPS-123'")
    if len(text) > _MAX_COMMENT or any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidArgument(f"comment must be at most {_MAX_COMMENT} printable characters")
    return text


async def plan_silence(
    client: AlertmanagerClient,
    matchers: list[str],
    duration: str,
    comment: str,
    *,
    created_by: str,
    max_duration_s: float,
    now: float,
) -> SilencePlan:
    """What the silence would be and mute now; refuses matchers that narrow nothing.

    Raises:
        InvalidArgument: bad or match-everything matchers, a duration above the bound, no comment.
    """
    parsed = parse_matchers(matchers)
    refuse_silencing_everything(parsed)
    seconds = parse_duration(duration)
    if seconds > max_duration_s:
        raise InvalidArgument(
            f"duration {duration} is longer than the {max_duration_s / 3600:g}h this server allows; "
            "silence for less and extend it later if needed"
        )
    text = _check_comment(comment)
    reply = await client.get("alerts", [("filter", m.render()) for m in parsed])
    muted = [to_alert(raw, now=now) for raw in reply or []]
    muted.sort(key=lambda a: (a.name, sorted(a.labels.items())))
    return SilencePlan(
        alertmanager=client.name,
        matchers=[m.render() for m in parsed],
        starts_at=iso(now),
        ends_at=iso(now + seconds),
        duration_seconds=seconds,
        created_by=created_by,
        comment=text,
        alerts_matched=len(muted),
        alert_names=dict(sorted(Counter(a.name for a in muted).items())),
        examples=[PreviewAlert(name=a.name, labels=a.labels, state=a.state) for a in muted[:_EXAMPLES]],
        already_silenced=sum(1 for a in muted if a.silenced_by),
    )


async def create_silence(
    client: AlertmanagerClient, plan: SilencePlan, ledger: OwnershipLedger
) -> SilenceResult:
    """Create exactly the planned silence and record it as the planner's."""
    body = {
        "matchers": [m.api() for m in parse_matchers(plan.matchers)],
        "startsAt": plan.starts_at,
        "endsAt": plan.ends_at,
        "createdBy": plan.created_by,
        "comment": plan.comment,
    }
    reply = await client.post("silences", body) or {}
    silence_id = str(reply.get("silenceID", ""))
    if not _SILENCE_ID.match(silence_id):
        raise InvalidArgument(f"Alertmanager {client.name!r} did not return a silence id: {reply!r}")
    ledger.record(silence_key(client.name, silence_id), plan.created_by)
    return SilenceResult(
        plan=plan,
        created=True,
        silence_id=silence_id,
        note=f"Silenced {plan.alerts_matched} alert(s) until {plan.ends_at}. "
        f"End it early with am_silence_expire(id={silence_id!r}).",
    )


async def expire_silence(
    client: AlertmanagerClient, silence_id: str, *, caller: str, admin: bool, ledger: OwnershipLedger
) -> SilenceExpired:
    """Expire a silence now: one this caller created through this server, or any for an admin.

    Raises:
        InvalidArgument: not a silence id, or the silence has already ended.
        NotFound: no such silence.
        PermissionDenied: created elsewhere, or by another caller, and the caller is no admin.
    """
    if not _SILENCE_ID.match(silence_id.strip()):
        raise InvalidArgument(f"{silence_id!r} is not a silence id (a UUID, as am_silences lists them)")
    silence_id = silence_id.strip().lower()
    try:
        raw = await client.get(f"silence/{silence_id}") or {}
    except NotFound:
        raise NotFound(
            f"no silence {silence_id} on Alertmanager {client.name!r}; list them with am_silences"
        ) from None
    ledger.require(
        silence_key(client.name, silence_id),
        caller=caller,
        admin=admin,
        what="silence",
        verb="expire",
        shown=silence_id,
        proof="its createdBy proves",
    )
    state = str((raw.get("status") or {}).get("state", ""))
    if state == "expired":
        raise InvalidArgument(f"silence {silence_id} has already ended")
    await client.delete(f"silence/{silence_id}")
    return SilenceExpired(
        alertmanager=client.name,
        id=silence_id,
        matchers=[from_api(m).render() for m in raw.get("matchers") or []],
        previous_state=state,
        note="The silence has ended; its alerts notify again at the next group interval.",
    )
