# Identito API / worker image: slim, non-root, with a health check.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends libdmtx0b poppler-utils fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 10001 identito
WORKDIR /opt/identito
COPY pyproject.toml README.md ./
COPY app ./app
COPY alembic ./alembic
COPY wsdl ./wsdl
RUN pip install -e . && mkdir -p /var/lib/identito && chown identito /var/lib/identito

USER identito
ENV IDENTITO_VAR_DIR=/var/lib/identito
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"
CMD ["identito", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
