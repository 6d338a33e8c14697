"""Inputs and outputs of the monitoring tools; the descriptions are written for the model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

Trend = Literal["rising", "falling", "flat"]

# Tool arguments shared by several tools.
Matchers = Annotated[
    list[str] | None,
    Field(description='Series selectors to restrict to, e.g. ["up", "{job=\\"node\\"}"]', max_length=20),
]
Search = Annotated[str | None, Field(description="Keep only names containing this text (case-insensitive)")]
Endpoint = Annotated[
    str | None,
    Field(description="Prometheus endpoint name (see prom_endpoints); omit for the default", max_length=32),
]
TimeArg = Annotated[
    str | None, Field(description="now, now-1h, -30m, RFC 3339 (2026-01-02T03:04:05Z) or Unix seconds")
]


class EndpointInfo(BaseModel):
    """A configured Prometheus endpoint (credentials are never shown)."""

    name: str = Field(description="Pass as `endpoint` to the prom_* tools")
    url: str = Field(description="Base URL")
    auth: Literal["none", "bearer", "basic"] = Field(description="How the server authenticates to it")
    default: bool = Field(description="Used when a call names no endpoint")


class EndpointList(BaseModel):
    """The Prometheus endpoints this server may query."""

    endpoints: list[EndpointInfo] = Field(description="Configured endpoints")


class Sample(BaseModel):
    """One series of an instant query and its value."""

    metric: str = Field(description='The series in PromQL notation, e.g. up{instance="host:9100",job="node"}')
    value: float | None = Field(description="The value at the evaluation time; null for NaN or ±Inf")
    value_text: str = Field(description="The value exactly as Prometheus sent it (keeps NaN and ±Inf)")


class QueryResult(BaseModel):
    """The result of an instant PromQL query."""

    endpoint: str = Field(description="The Prometheus endpoint that answered")
    expr: str = Field(description="The expression evaluated")
    time: str = Field(description="Evaluation time (RFC 3339); pass it back with a cursor to page on")
    result_type: Literal["vector", "matrix", "scalar", "string"] = Field(
        description="vector: one value per series; scalar/string: a single value; matrix: a range selector"
    )
    samples: list[Sample] = Field(description="Values per series, sorted by series (this page only)")
    scalar: float | str | None = Field(default=None, description="The value of a scalar or string result")
    total_series: int = Field(description="Series in the whole result")
    estimated_samples: int | None = Field(
        default=None, description="Samples the cost guard estimated it reads (range selectors only)"
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` (with the same `time`) to page on"
    )
    truncated: bool = Field(default=False, description="True when more series exist than this page shows")
    note: str | None = Field(default=None, description="Why the result is cut, and how to see the rest")
    warnings: list[str] = Field(default_factory=list, description="Warnings Prometheus attached")


class SeriesSummary(BaseModel):
    """One series of a range query, summarised."""

    metric: str = Field(description="The series in PromQL notation")
    points: int = Field(description="Points in the range (NaN points excluded from the statistics)")
    min: float | None = Field(description="Smallest value")
    max: float | None = Field(description="Largest value")
    avg: float | None = Field(description="Mean value")
    first: float | None = Field(description="First value in the range")
    last: float | None = Field(description="Last value in the range")
    trend: Trend = Field(description="Direction of a least-squares line through the points")
    slope_per_hour: float | None = Field(description="Slope of that line, in units per hour")
    raw: list[tuple[float, float | None]] | None = Field(
        default=None, description="[unix_seconds, value] pairs; only when include_points was set"
    )


class RangeResult(BaseModel):
    """A PromQL range query, summarised per series."""

    endpoint: str = Field(description="The Prometheus endpoint that answered")
    expr: str = Field(description="The expression evaluated")
    start: str = Field(description="Start of the range (RFC 3339)")
    end: str = Field(description="End of the range (RFC 3339)")
    step_seconds: float = Field(description="Resolution of the range, in seconds")
    step_auto: bool = Field(description="True when the step was chosen automatically")
    series: list[SeriesSummary] = Field(description="Per-series summaries (this page only)")
    total_series: int = Field(description="Series in the whole result")
    estimated_samples: int | None = Field(
        default=None, description="Samples the cost guard estimated the query reads"
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` with the same start/end to page on"
    )
    truncated: bool = Field(default=False, description="True when more series exist than this page shows")
    note: str | None = Field(default=None, description="Why the result is cut, and how to see the rest")
    warnings: list[str] = Field(default_factory=list, description="Warnings Prometheus attached")


class MetricMetadata(BaseModel):
    """What a metric measures, from the exporters' HELP and TYPE lines."""

    metric: str = Field(description="Metric name")
    type: str = Field(description="counter, gauge, histogram, summary or unknown")
    help: str = Field(description="The exporter's description")
    unit: str = Field(default="", description="Unit, when the exporter declares one")


class Target(BaseModel):
    """A scrape target and how its last scrape went."""

    job: str = Field(description="Scrape job")
    instance: str = Field(description="Instance label")
    health: str = Field(description="up, down or unknown (dropped targets: dropped)")
    scrape_url: str = Field(description="URL Prometheus scrapes")
    last_error: str = Field(default="", description="Error of the last scrape, empty when it worked")
    last_scrape: str | None = Field(default=None, description="Time of the last scrape (RFC 3339)")
    scrape_duration_ms: float | None = Field(default=None, description="Duration of the last scrape")


class Alert(BaseModel):
    """An active (pending or firing) alert."""

    name: str = Field(description="alertname")
    state: str = Field(description="pending (condition true, waiting for `for`) or firing")
    labels: dict[str, str] = Field(description="Labels of the alert, alertname excluded")
    annotations: dict[str, str] = Field(description="Annotations (summary, description, runbook_url…)")
    active_since: str | None = Field(default=None, description="When the condition became true (RFC 3339)")
    active_for_seconds: float | None = Field(default=None, description="Seconds since active_since")
    value: str = Field(default="", description="Value of the expression when last evaluated")


class Rule(BaseModel):
    """An alerting or recording rule."""

    name: str = Field(description="Alert name or recorded series name")
    type: Literal["alerting", "recording"] = Field(description="alerting or recording")
    group: str = Field(description="Rule group")
    expr: str = Field(description="PromQL expression")
    health: str = Field(description="ok, err or unknown")
    last_error: str = Field(default="", description="Last evaluation error")
    state: str | None = Field(default=None, description="Alerting rules: inactive, pending or firing")
    for_seconds: float | None = Field(default=None, description="Alerting rules: the `for` duration")
    active_alerts: int = Field(default=0, description="Alerting rules: alerts now pending or firing")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels the rule adds")
    annotations: dict[str, str] = Field(default_factory=dict, description="Annotations of an alerting rule")


class CardinalityEntry(BaseModel):
    """A name and how many series it accounts for."""

    name: str = Field(description="Metric or label name")
    count: int = Field(description="Series (or label values) counted")


class PromStatus(BaseModel):
    """Build, runtime and storage status of a Prometheus server."""

    endpoint: str = Field(description="The Prometheus endpoint")
    version: str = Field(description="Prometheus version")
    revision: str = Field(default="", description="Build revision")
    go_version: str = Field(default="", description="Go version")
    start_time: str | None = Field(default=None, description="When Prometheus started")
    storage_retention: str = Field(default="", description="Configured retention")
    reload_config_success: bool | None = Field(default=None, description="False when the last reload failed")
    head_series: int | None = Field(default=None, description="Series in the TSDB head block")
    head_chunks: int | None = Field(default=None, description="Chunks in the TSDB head block")
    top_metrics_by_series: list[CardinalityEntry] = Field(description="Highest-cardinality metric names")
    top_labels_by_values: list[CardinalityEntry] = Field(description="Label names with the most values")


class SeriesValue(BaseModel):
    """The current value of one series of a rule's expression."""

    metric: str = Field(description="The series in PromQL notation")
    value: str = Field(description="Its value now")


class AlertExplanation(BaseModel):
    """Everything known about one alerting rule: definition, current values, active alerts."""

    endpoint: str = Field(description="The Prometheus endpoint")
    name: str = Field(description="Alert name")
    group: str = Field(description="Rule group")
    expr: str = Field(description="The alert's PromQL expression")
    for_seconds: float = Field(description="How long the condition must hold before firing")
    state: str = Field(description="inactive, pending or firing")
    health: str = Field(description="ok, err or unknown; err means the expression fails to evaluate")
    last_error: str = Field(default="", description="Last evaluation error")
    labels: dict[str, str] = Field(description="Labels the rule adds")
    annotations: dict[str, str] = Field(description="Annotations (summary, description, runbook_url…)")
    alerts: list[Alert] = Field(description="Alerts of this rule now pending or firing")
    current_values: list[SeriesValue] = Field(description="The expression evaluated now, per series")
    current_values_truncated: bool = Field(default=False, description="True when values were cut")
    other_rules_with_name: int = Field(default=0, description="Further rules sharing this alert name")
    explanation: str = Field(description="A plain-language summary of the above")


class CertificateInfo(BaseModel):
    """The TLS certificate the server presented."""

    subject: str = Field(description="Certificate subject common name")
    issuer: str = Field(description="Issuer common name")
    not_after: str = Field(description="Expiry (RFC 3339)")
    days_left: float = Field(description="Days until expiry; negative when expired")


class HealthResult(BaseModel):
    """The outcome of probing one URL."""

    url: str = Field(description="The URL probed")
    ok: bool = Field(description="True when it answered the expected status (and body text, if asked)")
    status: int | None = Field(default=None, description="HTTP status; null when no answer came")
    latency_ms: float | None = Field(default=None, description="Time to the response headers")
    error: str = Field(default="", description="What went wrong, when something did")
    redirect_to: str | None = Field(default=None, description="Location of a redirect (never followed)")
    body_match: bool | None = Field(default=None, description="Whether expect_text was found in the body")
    certificate: CertificateInfo | None = Field(default=None, description="TLS certificate of https URLs")


class HealthReport(BaseModel):
    """Health of a set of URLs."""

    checked: int = Field(description="URLs probed")
    healthy: int = Field(description="URLs that passed")
    results: list[HealthResult] = Field(description="One result per URL, in the order given")


class DiskUsage(BaseModel):
    """A mounted filesystem."""

    mount: str = Field(description="Mount point")
    fstype: str = Field(description="Filesystem type")
    total_gb: float = Field(description="Size in GB")
    used_percent: float = Field(description="Percent used")


class ProcessInfo(BaseModel):
    """A process (command lines are not shown: they may hold secrets)."""

    pid: int = Field(description="Process id")
    name: str = Field(description="Executable name")
    user: str = Field(default="", description="Owner")
    cpu_percent: float = Field(description="CPU use over the sampling interval (100 = one core)")
    memory_percent: float = Field(description="Share of physical memory")
    rss_mb: float = Field(description="Resident memory in MB")


class HostStats(BaseModel):
    """CPU, memory, disk, load and top processes of the machine the server runs on."""

    hostname: str = Field(description="Host name")
    uptime_seconds: float = Field(description="Seconds since boot")
    cpu_count: int = Field(description="Logical CPUs")
    cpu_percent: float = Field(description="CPU use over the sampling interval, all CPUs (0-100)")
    load_1m: float = Field(description="Load average over 1 minute")
    load_5m: float = Field(description="Load average over 5 minutes")
    load_15m: float = Field(description="Load average over 15 minutes")
    memory_total_gb: float = Field(description="Physical memory")
    memory_available_gb: float = Field(description="Memory available without swapping")
    memory_used_percent: float = Field(description="Percent of memory in use")
    swap_used_percent: float = Field(description="Percent of swap in use")
    disks: list[DiskUsage] = Field(description="Mounted filesystems, fullest first")
    top_processes: list[ProcessInfo] = Field(description="Busiest processes by CPU, then memory")


class ToolStats(BaseModel):
    """Calls of one tool of one CODE server, from its /metrics."""

    server: str = Field(description="CODE server name")
    tool: str = Field(description="Tool name")
    calls: float = Field(description="Calls since the server started")
    errors: float = Field(description="Calls that ended in an error")
    refusals: float = Field(description="Calls refused by rate limits or policy")
    avg_latency_ms: float | None = Field(default=None, description="Mean latency")


class SuiteServerStatus(BaseModel):
    """Whether a CODE server's /metrics could be read."""

    server: str = Field(description="CODE server name")
    url: str = Field(description="Its /metrics URL")
    up: bool = Field(description="True when /metrics was read")
    error: str = Field(default="", description="Why it could not be read")


class SuiteMetrics(BaseModel):
    """The CODE suite's own metrics."""

    servers: list[SuiteServerStatus] = Field(description="Every configured CODE server")
    tools: list[ToolStats] = Field(description="Per-tool figures, busiest first")
    note: str | None = Field(default=None, description="Why figures are missing, when they are")
