"""The command line over a temp corpus and the hash embedder: output shapes and one-line errors."""

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.config import get_settings

runner = CliRunner()


@pytest.fixture
def env(sample_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RAG_CORPUS_DIR", str(sample_corpus))
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RAG_EMBED_MODEL", "hash")
    get_settings.cache_clear()
    yield tmp_path / "index"
    get_settings.cache_clear()


def test_build_then_up_to_date(env: Path) -> None:
    first = runner.invoke(app, ["build", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output)["built"] is True
    second = runner.invoke(app, ["build"])
    assert second.exit_code == 0 and "up to date" in second.output


def test_search_and_ask_json(env: Path) -> None:
    assert runner.invoke(app, ["build"]).exit_code == 0
    search = json.loads(runner.invoke(app, ["search", "ロボット政策", "--json", "-k", "2"]).output)
    assert search["language"] == "ja" and len(search["hits"]) == 2
    assert {"rank", "chunk_id", "section", "title", "text", "score"} <= set(search["hits"][0])
    ask = json.loads(runner.invoke(app, ["ask", "ロボット政策の2027年の目標は？", "--json"]).output)
    assert ask["citations"] and all(cell in ask["answer"] for cell in ask["citations"][0]["quote"].split(" | "))


def test_ask_prints_answer_and_citations(env: Path) -> None:
    assert runner.invoke(app, ["build"]).exit_code == 0
    result = runner.invoke(app, ["ask", "ロボット政策の2027年の目標は？"])
    assert result.exit_code == 0
    assert "[1] 【1-1】ロボット政策の展開" in result.output


@pytest.mark.parametrize("question", ["", "   ", "🙂🙂🙂", "長" * 2000])
def test_bad_question_is_one_line_error(env: Path, question: str) -> None:
    assert runner.invoke(app, ["build"]).exit_code == 0
    result = runner.invoke(app, ["ask", question])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_missing_index_is_one_line_error(env: Path) -> None:
    result = runner.invoke(app, ["search", "ロボット"])
    assert result.exit_code == 1 and "rag build" in result.output


def test_non_utf8_corpus_leaves_index_untouched(env: Path, sample_corpus: Path) -> None:
    assert runner.invoke(app, ["build"]).exit_code == 0
    before = sorted(p.name for p in env.iterdir())
    pointer = (env / "CURRENT").read_text()
    (sample_corpus / "report.txt").write_bytes("【1-1】中国".encode("shift_jis"))
    result = runner.invoke(app, ["build", "--force"])
    assert result.exit_code == 1 and "not UTF-8" in result.output
    assert sorted(p.name for p in env.iterdir()) == before and (env / "CURRENT").read_text() == pointer


def test_missing_model_is_one_line_error(env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAG_EMBED_MODEL", "multilingual-e5-small")
    monkeypatch.setenv("RAG_MODEL_CACHE", str(tmp_path / "empty-cache"))
    get_settings.cache_clear()
    result = runner.invoke(app, ["build"])
    assert result.exit_code == 1 and "not provisioned" in result.output


@pytest.mark.parametrize(
    ("variable", "value"),
    [("RAG_PORT", "abc"), ("RAG_RATE_LIMIT_PER_MINUTE", "-1"), ("RAG_EMBED_BACKEND", "gpu")],
)
def test_bad_setting_is_one_line_naming_the_variable(
    env: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    result = runner.invoke(app, ["search", "ロボット"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}:") and "fix or unset it" in lines[0]
    assert not (env / "manifest.json").exists()  # nothing was built


def test_mode_names_are_the_librarys() -> None:
    from rag import cli, retrieve
    from rag import eval as ev

    assert cli.MODES == retrieve.MODES and cli.EVAL_MODES == ev.MODES


def test_ask_through_a_running_server(served: tuple[str, int]) -> None:
    base, _ = served
    result = runner.invoke(app, ["ask", "--server", base, "ロボット政策の2027年の目標は？"])
    assert result.exit_code == 0 and "[1] 【1-1】ロボット政策の展開" in result.output
    answer = json.loads(
        runner.invoke(app, ["ask", "--server", base + "/", "ロボット政策は？", "--json", "-k", "2"]).output
    )
    assert answer["language"] == "ja" and answer["citations"] and len(answer["hits"]) == 2
    bad = runner.invoke(app, ["ask", "--server", base, "🙂🙂🙂"])
    assert bad.exit_code == 1 and bad.output.strip().startswith("error: the server answered 422: ")
    away = runner.invoke(app, ["ask", "--server", "http://127.0.0.1:9", "質問"])
    assert away.exit_code == 1 and "cannot reach the server at http://127.0.0.1:9" in away.output


def test_asking_a_server_loads_no_model_and_no_numpy(served: tuple[str, int]) -> None:
    code = (
        "import sys; from rag.cli import main_command; "
        "status = main_command(['ask', '--server', sys.argv[1], 'ロボット政策は？']); "
        "print(status, sorted(m for m in ('numpy', 'torch', 'onnxruntime', 'rag.pipeline') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, served[0]], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "0 []", out.stderr
