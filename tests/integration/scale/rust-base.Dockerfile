# Stand-in for `rust:1.95-slim-bookworm`, which no registry here can serve: the locally built
# bookworm base plus Debian's rustc-web/cargo-web (Rust 1.96 from bookworm-security).
ARG BASE
FROM ${BASE}
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends rustc-web cargo-web \
    && rm -rf /var/lib/apt/lists/*
