# Pinned: the base image by exact version, the Python dependencies by deploy/constraints.txt
# (every package of the server extra at the version the tests ran with).
FROM python:3.11.10-slim-bookworm
WORKDIR /app
# git: the repository scanner reads history with it.
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py README.md ./
COPY deploy/constraints.txt ./deploy/constraints.txt
COPY keystore ./keystore
COPY scanner ./scanner
COPY rotation ./rotation
COPY web ./web
COPY migrations ./migrations
# /var/lib/keyward is the data directory, and repos/ the scan cache: owned by the service
# user, so a named volume mounted there starts out writable (scans failed with
# "Permission denied: 'keyward-data'" when the cache was a relative path under /app).
RUN pip install --no-cache-dir --constraint deploy/constraints.txt ".[server]" \
    && mkdir -p /run/keyward-metrics /var/lib/keyward/repos \
    && useradd --system --home-dir /var/lib/keyward keyward \
    && chown keyward /run/keyward-metrics /var/lib/keyward /var/lib/keyward/repos
ENV KEYWARD_DATA_DIR=/var/lib/keyward KEYWARD_SCAN_CACHE=/var/lib/keyward/repos
USER keyward
EXPOSE 8080
CMD ["gunicorn", "-c", "python:web.gunicorn_conf", "web:create_app()"]
