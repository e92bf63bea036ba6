FROM python:3.11-slim
WORKDIR /app
# git: the repository scanner reads history with it.
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY keystore ./keystore
COPY scanner ./scanner
COPY rotation ./rotation
COPY web ./web
COPY migrations ./migrations
RUN pip install --no-cache-dir . && mkdir -p /run/keyward-metrics && useradd --system keyward \
    && chown keyward /run/keyward-metrics
USER keyward
EXPOSE 8080
CMD ["gunicorn", "-c", "python:web.gunicorn_conf", "web:create_app()"]
