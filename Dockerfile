# LearningHub image: one image for web (gunicorn), worker and beat.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/app/.venv \
    PATH=/app/.venv/bin:$PATH

WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*

COPY requirements.lock pyproject.toml ./
RUN python -m venv .venv && pip install --no-cache-dir uv==0.13.8 \
    && uv pip install --no-cache --python .venv/bin/python -r requirements.lock

COPY . .
RUN uv pip install --no-cache --python .venv/bin/python --no-deps -e . \
    && SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0

RUN useradd --system --uid 1000 learninghub && chown -R learninghub /app
USER learninghub
EXPOSE 8000
CMD ["gunicorn", "learninghub.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
