FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN SECRET_KEY=collectstatic-only-$(head -c 48 /dev/urandom | base64) \
    DATABASE_URL=postgres://unused/unused python manage.py collectstatic --no-input \
    && useradd --create-home app && mkdir -p /app/media && chown app /app/media
USER app

EXPOSE 8000
CMD ["sh", "-c", "python manage.py migrate --no-input && daphne -b 0.0.0.0 -p ${PORT:-8000} --websocket_timeout -1 --websocket_connect_timeout 30 --websocket-max-message-size 65536 contentpipeline.asgi:application"]
