"""What every CODE server stands on: config, auth, policy, limits, audit, output, transports.

Import the module you need (nothing is re-exported here, so `import shared.errors` stays cheap):

    shared.toolkit.ServerKit     build a server whose every tool call passes the guard
    shared.runtime.Runtime       what one process shares: policy, limiter, audit log, metrics, verifier
    shared.auth                  bearer tokens (API keys, JWTs), current_identity()
    shared.policy / validation   roles, tiers and argument rules / boundary checks
    shared.ratelimit             nested tool-call quotas, OutboundLimiter for upstream calls
    shared.output / audit        result budgets and redaction / the hash-chained audit log
    shared.consensus             the experts server's door to rust_core's consensus
    shared.runner                stdio, SSE and streamable HTTP serving (used by `code-mcp`)
"""
