FROM python:3.11-slim
# Logs straight to `docker compose logs`, no .pyc files in a read-only layer.
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY monitor monitor
COPY sirekap sirekap
COPY pantau pantau
COPY observability observability
RUN pip install --no-cache-dir .
USER nobody
EXPOSE 8000 8001 8002
CMD ["pantau", "api", "--host", "0.0.0.0"]
