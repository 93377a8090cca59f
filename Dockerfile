# The service's image: web (the default command), and the Celery worker, beat and the
# migrations with another command (see docker-compose.yml).

# --- builder: the service's requirements into a virtual environment ----------------------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /venv
COPY requirements.txt /tmp/requirements.txt
# requirements.txt only: tests, tooling and the embedded PostgreSQL and Redis of
# `make run` are in requirements-dev.txt and stay out of the image.
RUN /venv/bin/pip install -r /tmp/requirements.txt

# --- final: the virtual environment and the code, run as an unprivileged user -------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH
RUN useradd --create-home --uid 10001 app
COPY --from=builder /venv /venv
WORKDIR /app
# Owned by root and read-only to the app: only the media directory is its to write.
COPY . .
# The static files (hashed names, compressed) are part of the image; the settings need
# a secret and a database URL to load, neither of which collectstatic uses.
RUN SECRET_KEY=collectstatic-only-$(head -c 48 /dev/urandom | base64) \
    DATABASE_URL=postgres://unused/unused python manage.py collectstatic --no-input \
    && mkdir -p /app/media && chown app /app/media
USER app

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "contentpipeline.healthcheck"]
# The ASGI server as `make run` starts it (devtools/processes.py web_command).
# Migrations are a one-off step of their own (the compose file's `migrate`), not part
# of every web process's start.
CMD ["sh", "-c", "exec daphne -b 0.0.0.0 -p ${PORT:-8000} --websocket_timeout -1 --websocket_connect_timeout 30 --websocket-max-message-size 65536 --access-log /dev/null contentpipeline.asgi:application"]
