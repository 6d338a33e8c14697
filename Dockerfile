# CODE MCP suite: build the wheel (Rust core + Python packages) with maturin, run it slim and
# non-root. Both base images are arguments so a locally built image can stand in where no
# registry is reachable.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${RUST_IMAGE} AS build
# Debian bookworm's python3 is 3.11, the runtime's version, so the wheel's ABI matches.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/maturin && /opt/maturin/bin/pip install --no-cache-dir maturin==1.16.0
WORKDIR /src
COPY pyproject.toml README.md ./
COPY rust_core ./rust_core
COPY shared ./shared
COPY servers ./servers
RUN /opt/maturin/bin/maturin build --release --interpreter python3 --out /wheels

FROM ${PYTHON_IMAGE}
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin code
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001
WORKDIR /home/code
EXPOSE 8000
ENTRYPOINT ["code-mcp"]
CMD ["serve", "suite", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
