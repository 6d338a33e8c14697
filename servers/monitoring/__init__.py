"""The monitoring server: Prometheus queries, alerts, endpoint health, host and suite metrics."""
