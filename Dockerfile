# report-rag: the same set-up as `make setup`, on CPU, as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    RAG_HOST=0.0.0.0 RAG_PORT=8000 \
    RAG_MODEL_CACHE=/opt/report-rag/models RAG_DATA_DIR=/var/lib/report-rag
# Outside this workplace, PyPI's default torch wheel for Linux is a CUDA build: take the CPU one.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

RUN useradd --create-home --uid 10001 rag \
 && mkdir -p /app /opt/report-rag/models /var/lib/report-rag \
 && chown -R rag:rag /app /opt/report-rag /var/lib/report-rag
WORKDIR /app
COPY --chown=rag:rag . /app
USER rag

# Model provisioned and index built at image build time: the container starts ready and offline.
RUN TORCH_INDEX_URL=$TORCH_INDEX_URL scripts/setup.sh

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD .venv/bin/python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD [".venv/bin/rag", "serve"]
