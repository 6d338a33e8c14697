"""The monitoring server's Alertmanager toolset (`am_*`): wiring only; the logic is `am_ops` and
`silence_ops`. Every tool takes `alertmanager` (a configured name; see am_status)."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from pydantic import Field

from servers.monitoring import am_ops, silence_ops
from servers.monitoring.am_models import (
    AlertGroup,
    AlertmanagerArg,
    AmAlert,
    AmStatus,
    MatcherList,
    Receiver,
    Silence,
    SilenceExpired,
    SilenceResult,
    StateFilter,
)
from servers.monitoring.backends import Backends
from servers.monitoring.settings import MonitoringSettings
from shared.calls import current_identity
from shared.paging import Cursor, Limit, Page, page
from shared.toolkit import ServerKit

ReceiverArg = Annotated[
    str | None, Field(description="Only alerts routed to receivers matching this regex", max_length=200)
]


def am_tools(kit: ServerKit, settings: MonitoringSettings, backends: Backends) -> None:
    """Register the Alertmanager tools: reads at the read tier, silences at the write tier."""
    read = kit.toolset(permission="monitoring:read", open_world=True)
    write = kit.toolset(permission="monitoring:write", open_world=True)

    @read.tool("am_alerts", "List Alertmanager alerts")
    async def am_alerts(
        matchers: MatcherList = None,
        receiver: ReceiverArg = None,
        active: StateFilter = None,
        silenced: StateFilter = None,
        inhibited: StateFilter = None,
        alertmanager: AlertmanagerArg = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[AmAlert]:
        """Alerts Alertmanager holds, notifying ones first: labels, annotations, receivers, and whether
        a silence or an inhibition mutes them. Filter by label matchers, receiver, and state
        (active=true: only those notifying; silenced=false: hide silenced ones …)."""
        client = backends.alertmanager(alertmanager)
        found = await am_ops.alerts(
            client, matchers=matchers, receiver=receiver, active=active, silenced=silenced,
            inhibited=inhibited, now=time.time(),
        )  # fmt: skip
        return page(found, resolved={"alertmanager": client.name})

    @read.tool("am_alert_groups", "List Alertmanager alert groups")
    async def am_alert_groups(
        matchers: MatcherList = None,
        receiver: ReceiverArg = None,
        alertmanager: AlertmanagerArg = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[AlertGroup]:
        """Alerts as the route tree groups them into notifications: receiver, group labels, counts
        per state and the first alerts of each group, biggest groups first."""
        client = backends.alertmanager(alertmanager)
        found = await am_ops.alert_groups(
            client, matchers=matchers, receiver=receiver, shown=settings.group_alerts_shown, now=time.time()
        )
        return page(found, resolved={"alertmanager": client.name})

    @read.tool("am_silences", "List Alertmanager silences")
    async def am_silences(
        state: Annotated[
            Literal["active", "pending", "expired"] | None, Field(description="Only silences in this state")
        ] = None,
        matchers: MatcherList = None,
        alertmanager: AlertmanagerArg = None,
        cursor: Cursor = None,
        limit: Limit = None,
    ) -> Page[Silence]:
        """Silences, active first: matchers, who created them and why, when they end, and whether
        this server created them (only those can be expired here, unless you are an admin)."""
        client = backends.alertmanager(alertmanager)
        found = await am_ops.silences(
            client, matchers=matchers, state=state, now=time.time(),
            created_here=backends.silences.ids(f"{client.name}/"),
        )  # fmt: skip
        return page(found, resolved={"alertmanager": client.name})

    @read.tool("am_receivers", "List Alertmanager receivers")
    async def am_receivers(
        alertmanager: AlertmanagerArg = None, cursor: Cursor = None, limit: Limit = None
    ) -> Page[Receiver]:
        """Receivers, the kinds of notification each sends (webhook, email, slack…) and the routes
        that lead to it. Credentials in the configuration are never shown."""
        client = backends.alertmanager(alertmanager)
        return page(await am_ops.receivers(client), resolved={"alertmanager": client.name})

    @read.tool("am_status", "Alertmanager status")
    async def am_status(alertmanager: AlertmanagerArg = None) -> AmStatus:
        """Version, uptime, cluster state and a summary of the routing configuration of one
        Alertmanager, and the names of the other configured Alertmanagers."""
        client = backends.alertmanager(alertmanager)
        others = sorted(name for name in settings.alertmanagers if name != client.name)
        return await am_ops.status(client, others=others)

    @write.tool("am_silence_create", "Create an Alertmanager silence", destructive=False, idempotent=False)
    async def am_silence_create(
        matchers: Annotated[
            list[str],
            Field(
                description='What to silence, e.g. ["alertname=\\"HighLatency\\"", "instance=\\"web-1\\""]; '
                "matchers that match everything are refused",
                min_length=1,
                max_length=20,
            ),
        ],
        duration: Annotated[str, Field(description="How long, e.g. 30m, 2h (bounded by the server)")],
        comment: Annotated[str, Field(description="Why: the incident, change or ticket", max_length=1000)],
        dry_run: Annotated[
            bool, Field(description="Only show what it would silence; create nothing")
        ] = False,
        alertmanager: AlertmanagerArg = None,
    ) -> SilenceResult:
        """Silence alerts for a while, in your name. The result first shows the plan: how many alerts
        the matchers mute now and their names. Use dry_run=true to see that before creating it.
        Matchers that would silence every alert ({}, =~".*", !="" …) and durations above the
        server's limit are refused."""
        client = backends.alertmanager(alertmanager)
        plan = await silence_ops.plan_silence(
            client, matchers, duration, comment, created_by=current_identity().subject,
            max_duration_s=settings.silence_max_duration_s, now=time.time(),
        )  # fmt: skip
        if dry_run:
            return SilenceResult(
                plan=plan, created=False, note="Dry run: nothing was created. Call again without dry_run."
            )
        return await silence_ops.create_silence(client, plan, backends.silences)

    @write.tool("am_silence_expire", "Expire an Alertmanager silence", destructive=True, idempotent=True)
    async def am_silence_expire(
        id: Annotated[str, Field(description="Silence id (from am_silences)", max_length=64)],
        alertmanager: AlertmanagerArg = None,
    ) -> SilenceExpired:
        """End a silence now, so its alerts notify again. Only silences you created through this
        server, unless you hold monitoring:admin."""
        identity = current_identity()
        return await silence_ops.expire_silence(
            backends.alertmanager(alertmanager), id, caller=identity.subject,
            admin=kit.policy.allows(identity.role, "monitoring:admin"), ledger=backends.silences,
        )  # fmt: skip
