# CODE MCP suite: build the wheel (Rust core + Python packages) with maturin, run it slim and
# non-root, with the security-scan server's scanners in a virtualenv of their own. Both base images
# are arguments so a locally built image can stand in where no registry is reachable (the
# container-image test builds this file that way: tests/integration/scale/test_container_image.py).
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
RUN /opt/maturin/bin/maturin build --release --locked --interpreter python3 --out /wheels

FROM ${PYTHON_IMAGE}
# shellcheck is the one scanner Debian ships; the others are pinned in scanners.txt.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends shellcheck \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin code
# Scanners before the suite: this layer is reused until their pins change.
COPY servers/security_scan/scanners.txt /opt/scanners.txt
RUN python3 -m venv /opt/scanners && /opt/scanners/bin/pip install --no-cache-dir -r /opt/scanners.txt
COPY --from=build /wheels /wheels
RUN python3 -m venv /opt/code && /opt/code/bin/pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
ENV PATH=/opt/code/bin:$PATH \
    CODE_MCP_SECURITY_SCAN__SCANNERS_VENV=/opt/scanners \
    PYTHONDONTWRITEBYTECODE=1
USER 10001
WORKDIR /home/code
EXPOSE 8000
ENTRYPOINT ["code-mcp"]
CMD ["serve", "suite", "--transport", "http", "--host", "0.0.0.0", "--port", "8000"]
