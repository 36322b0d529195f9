# syntax=docker/dockerfile:1
# The image runs exactly the wheel that tests/unit/test_packaging.py builds with the same command in CI, on the
# runtime dependencies that uv.lock pins.
#
# Pinned by tag for readability; CI should pin by digest as well
# (python:3.11-slim-bookworm@sha256:<digest>) so a rebuilt upstream tag cannot change the image unnoticed.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# The uv that exports the lock; the Makefile bootstraps the same release (UV_VERSION).
ARG UV_VERSION=0.13.9
# Behind a TLS-inspecting proxy, the CA bundle the building machine trusts (a path inside the build, e.g. a
# mounted file; `make image` passes the host's); empty, pip trusts its own bundle. Build stage only.
ARG PIP_CERT=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Tools in a venv of their own (a Debian base refuses pip installs into the system Python, PEP 668).
RUN python3 -m venv /opt/tools \
    && /opt/tools/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
    && python3 -m venv /opt/venv
# Runtime dependencies first, exactly as uv.lock pins them (hashes checked): this layer changes only with the
# lock. --no-dev leaves out the dev group (and with it the dev tools of tools/); --no-emit-workspace leaves
# out our own packages, installed from the wheel below. pip compiles the .pyc files here, because the
# runtime root filesystem is read-only.
COPY pyproject.toml uv.lock ./
COPY tools/pyproject.toml ./tools/
COPY clients/python/pyproject.toml ./clients/python/
RUN /opt/tools/bin/uv export --frozen --no-dev --no-emit-workspace --format requirements-txt --quiet -o /tmp/requirements.txt \
    && /opt/venv/bin/pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt
# Then the service itself, the wheel CI builds with the same command; its dependencies are already there.
COPY README.md ./
COPY src ./src
RUN /opt/tools/bin/python -m pip wheel --no-deps -w /wheels . \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps /wheels/watchlist_service-*.whl \
    && /opt/venv/bin/pip check

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
