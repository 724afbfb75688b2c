# syntax=docker/dockerfile:1
# The daemon (`orchestration up --foreground`) and the REST/WebSocket/MCP server
# (`orchestration serve`) in one container, data in the volume /data. See docs/docker.md.
#   docker build -t orchestration .
#   docker run -d --name orchestration -p 127.0.0.1:8765:8765 -v orchestration-data:/data orchestration

# Build: the locked dependencies (without the dev group), then the project, into /app/.venv.
FROM ghcr.io/astral-sh/uv:python3.11-bookworm-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-project --no-editable
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# Run: the same Python, the virtual environment, the entrypoint; no uv, no sources.
FROM python:3.11-slim-bookworm
RUN useradd --system --user-group --uid 10001 --create-home --home-dir /home/orch orch \
    && install -d -m 700 -o orch -g orch /data
COPY --from=build /app/.venv /app/.venv
COPY --chmod=755 docker/entrypoint.sh /usr/local/bin/orchestration-entrypoint
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ORCH_HOME=/data \
    ORCH_API_HOST=0.0.0.0
USER orch
WORKDIR /home/orch
VOLUME /data
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('ORCH_API_PORT', '8765'), timeout=5)"]
ENTRYPOINT ["orchestration-entrypoint"]
CMD ["--require-token"]
