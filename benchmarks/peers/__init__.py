"""The peer benchmark's parts (benchmarks/bench_peers.py runs them).

- `install`: the peer servers, each installed once into its own prefix in the cache, and kubectl;
- `backends`: the integration tests' loopback backends, started and seeded;
- `servers`: how CODE, each peer and the bare SDK server are launched over stdio;
- `pairs`: each task, the tool each server does it with, and what a complete answer holds;
- `sessions`: official-SDK stdio sessions, the server's PID, one measured call;
- `measure`: shuffled rounds, cold starts, memory;
- `report`: tables and CODE/peer ratios.
"""
