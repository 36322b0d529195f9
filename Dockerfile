# syntax=docker/dockerfile:1
# The image runs exactly the wheel that tests/unit/test_packaging.py builds with the same command in CI.
#
# Pinned by tag for readability; CI should pin by digest as well
# (python:3.11-slim-bookworm@sha256:<digest>) so a rebuilt upstream tag cannot change the image unnoticed.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m venv /opt/venv
# Only what the wheel is built from, so editing tests or manifests does not bust this layer.
COPY pyproject.toml README.md ./
COPY src ./src
# Runtime dependencies only: no [dev] or [devstack] extras reach the image. pip compiles the .pyc files here,
# because the runtime root filesystem is read-only.
RUN python -m pip wheel --no-deps -w /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir /wheels/watchlist_service-*.whl

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="watchlist-service" \
      org.opencontainers.image.description="My List backend"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin app
COPY --from=builder /opt/venv /opt/venv
# An empty, root-owned working directory: nothing is written beside the code, so a read-only root works
# (only /tmp needs to be writable; Kubernetes mounts an emptyDir there).
WORKDIR /app
USER 10001:10001
EXPOSE 8000
# slim has no curl; urlopen raises on a refused connection or a non-2xx answer, so the exit code is the verdict.
# The port must follow CMD's --port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/v1/health/live', timeout=2)"]
ENTRYPOINT ["watchlist-service", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000"]
