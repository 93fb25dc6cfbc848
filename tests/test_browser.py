"""The served chat UI in a real Chromium: questions answered with citations, feedback stored, nothing fetched
from outside 127.0.0.1. Needs Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`)."""

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from rag.feedback import FeedbackStore
from rag.pipeline import Pipeline
from rag.serve.app import create_app
from rag.serve.state import AppState
from rag.types import Answer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOT = Path(__file__).resolve().parent.parent / "out" / "ui-screenshot.png"
JA = "中国のAIコア産業の規模は2025年にどのくらいですか？"
EN = "How much did the US invest privately in AI in 2024 compared with China?"
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@pytest.fixture(scope="module")
def server(real_pipeline: Pipeline) -> Iterator[str]:
    """The real app (API with the UI at "/"), served by uvicorn on a free 127.0.0.1 port in a thread."""
    with serve_in_thread(create_app(AppState(real_pipeline))) as url:
        yield url


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # the port is ours from here on: no race with another process
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the UI server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: run the setup (`apt-get install -y chromium`); "
            "the browser tests use Debian's Chromium, not `playwright install`"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


# Records each update of the newest answer while it streams in: (text length, sources shown yet).
_WATCH_STREAM = """() => {
  window.__rrStream = [];
  new MutationObserver(() => {
    const bots = document.querySelectorAll('#rr-chat [data-testid="bot"]');
    const last = bots[bots.length - 1];
    if (last) window.__rrStream.push([last.innerText.length, !!last.querySelector('.rr-sources')]);
  }).observe(document.querySelector('#rr-chat'), {subtree: true, childList: true, characterData: true});
}"""


# Scroll the chat so this message sits just below the chat's top-right buttons.
_SCROLL_TO_TOP = """e => {
  let box = e.parentElement;
  while (box && box.scrollHeight <= box.clientHeight) box = box.parentElement;
  if (box) box.scrollTop += e.getBoundingClientRect().top - box.getBoundingClientRect().top - 44;
}"""


def _ask(page: Any, question: str, answers_before: int) -> Any:
    page.evaluate(_WATCH_STREAM)
    page.fill("#rr-question textarea", question)
    page.keyboard.press("Enter")
    sources = page.locator("#rr-chat .rr-sources")
    sources.nth(answers_before).wait_for(timeout=TIMEOUT_MS)
    return page.locator('#rr-chat [data-testid="bot"]').nth(answers_before)


def _check_answer(page: Any, message: Any, answer: Answer) -> None:
    """The browser shows the pipeline's answer: its quotes, and per citation [n] with section id and title."""
    assert not answer.abstained and answer.citations
    text = message.inner_text()
    for c in answer.citations:
        # The answer shows the quote without the slide's 👉 mark (a table row as its columns).
        assert c.quote.split("|")[0].removeprefix("👉").strip()[:30] in text
    summaries = message.locator("details.rr-cite > summary")
    assert summaries.count() == len(answer.citations)
    for i, c in enumerate(answer.citations):
        summary = summaries.nth(i).inner_text()
        assert f"[{c.n}]" in summary and f"【{c.section_id}】" in summary and c.section_title[:20] in summary
    # Unfolding a citation shows its passage with the quoted words marked; a translated one folds the Japanese
    # original inside, its quote marked too.
    first = message.locator("details.rr-cite").first
    first.locator("> summary").click()
    mark = first.locator("> .rr-passage mark")
    mark.first.wait_for(timeout=5_000)
    assert mark.first.inner_text().replace("\n", "") == answer.citations[0].quote.split("\n")[0]
    if answer.language != "ja":
        assert first.locator(".rr-note").inner_text().endswith("the Japanese original is authoritative.")
        first.locator("details.rr-original > summary").click()
        original = first.locator("details.rr-original .rr-passage mark").first
        original.wait_for(timeout=5_000)
        assert original.inner_text().replace("\n", "") == answer.citations[0].original.split("\n")[0]
    # It streamed: the page showed the answer growing before the sources appeared.
    stream = page.evaluate("window.__rrStream")
    partial = {length for length, has_sources in stream if not has_sources and length > 0}
    assert len(partial) >= 2, f"the answer did not stream in pieces: {stream[:20]}"


def test_chat_in_a_real_browser(
    server: str, browser: Any, real_pipeline: Pipeline, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.rstrip("/"))
    requests: list[str] = []
    bodies: list[str] = []

    def sent(request: Any) -> None:
        requests.append(request.url)
        bodies.append(request.post_data or "")

    context.on("request", sent)
    page = context.new_page()
    page.on("websocket", lambda ws: requests.append(ws.url))
    started = time.perf_counter()
    page.goto(server)
    page.wait_for_selector("#rr-question textarea", timeout=TIMEOUT_MS)
    assert page.title() == "中国AI産業の発展現状と将来展望 Q&A — report-rag"  # the title in corpus/metadata.json
    assert page.get_by_role("button", name=EN).count() == 1  # the example questions are there to click

    ja_answer = real_pipeline.ask(JA)
    ja_message = _ask(page, JA, 0)
    _check_answer(page, ja_message, ja_answer)
    assert "1.2兆元" in ja_message.inner_text()
    assert "【2-1】" in ja_message.inner_text()

    en_answer = real_pipeline.ask(EN)
    en_message = _ask(page, EN, 1)
    _check_answer(page, en_message, en_answer)
    # In English, from the edition: the reader sees dollars the English way.
    assert "$109.1 billion" in en_message.inner_text() and "$9.3 billion" in en_message.inner_text()

    # Copy gives the answer and its sources as plain text, not the message's HTML.
    en_message.hover()
    page.locator("#rr-chat button[aria-label='Copy message']").last.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "$109.1 billion" in copied and f"[1] 【{en_answer.citations[0].section_id}】" in copied
    assert "<" not in copied and "\\[" not in copied

    # Thumbs up comes before thumbs down, and the chat's own buttons (clear, copy all) sit above the messages,
    # never over a question scrolled to the top.
    like, dislike = (
        page.locator(f"#rr-chat button[aria-label='{name}']").last.bounding_box() for name in ("Like", "Dislike")
    )
    assert like and dislike and like["x"] < dislike["x"]
    clear = page.locator("#rr-chat button[aria-label='Clear']").bounding_box()
    scroller = page.locator("#rr-chat .bubble-wrap").bounding_box()
    assert clear and scroller and clear["y"] + clear["height"] <= scroller["y"]

    # Thumbs up on the English answer lands in the SQLite file.
    page.locator("#rr-chat button[aria-label='Like']").last.click()
    database = real_pipeline.settings.data_dir / "feedback.sqlite3"
    rows = _wait_for_rows(database, 1)
    assert len(rows) == 1 and rows[0]["question"] == en_answer.question and rows[0]["vote"] == "up"
    assert [c["section"] for c in rows[0]["citations"]] == [c.section_id for c in en_answer.citations]

    # For the README: the English question at the top of the chat, its answer and open citation below.
    page.locator('#rr-chat [data-testid="user"]').nth(1).evaluate(_SCROLL_TO_TOP)
    page.mouse.move(0, 0)
    page.wait_for_timeout(2_500)  # let the thank-you toast fade before the screenshot
    shot = tmp_path / "ui-screenshot.png"
    page.screenshot(path=str(shot), full_page=True)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOT)

    # The retrieval trace unfolds to one row per passage, with the retriever ranks, of the latest answer even
    # after a click on an earlier one.
    page.get_by_text("Retrieval trace").click()
    ja_message.locator("p").first.click()
    page.wait_for_timeout(500)
    trace_rows = page.locator("#rr-trace table.rr-trace tbody tr")
    trace_rows.first.wait_for(timeout=5_000)
    assert page.locator("#rr-trace .rr-trace-q").inner_text().startswith(EN)
    assert trace_rows.count() == len(en_answer.hits)
    first_row = trace_rows.first.inner_text()
    assert "dense #" in first_row and f"【{en_answer.hits[0].chunk.section_id}】" in first_row

    page.locator("#rr-clear").click()
    page.locator('#rr-chat [data-testid="bot"]').first.wait_for(state="detached", timeout=5_000)

    # The conversation stays on the server: asking never uploads the earlier answers and their passages.
    asking = [body for body in bodies if EN in body]
    assert asking and all(len(body.encode()) < 2_000 and "兆元" not in body for body in asking)

    request.node.user_properties.append(("ui_seconds", round(time.perf_counter() - started, 1)))
    outside = sorted({url for url in requests if not _local(url)})
    assert requests and not outside, f"requests left 127.0.0.1: {outside}"
    context.close()


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == "127.0.0.1"


def _wait_for_rows(database: Path, n: int, timeout: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = FeedbackStore(database).export() if database.exists() else []
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


@pytest.mark.parametrize("path", ["docs", "redoc"])
def test_api_docs_render_offline(server: str, browser: Any, path: str) -> None:
    """/docs (Swagger UI) and /redoc list the operations, with their scripts and styles served by the app."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    fetched: list[str] = []
    blocked: list[tuple[str, str]] = []
    context.on("requestfinished", lambda request: fetched.append(request.url))
    context.on("requestfailed", lambda request: blocked.append((request.url, request.failure or "")))
    page = context.new_page()
    page.goto(server + path)
    if path == "docs":
        page.locator("#operations-default-ask_api_ask_post").wait_for(timeout=TIMEOUT_MS)
        listed = "\n".join(page.locator(".opblock-summary-path").all_inner_texts())
    else:
        page.locator("[data-section-id='operation/ask_api_ask_post']").first.wait_for(timeout=TIMEOUT_MS)
        listed = page.locator("body").inner_text()
    for route in ("/healthz", "/api/search", "/api/ask", "/api/feedback", "/v1/chat/completions", "/v1/models"):
        assert route in listed, f"{route} not listed on /{path}"
    page.screenshot(path=str(SCREENSHOT.with_name(f"{path}-screenshot.png")))
    outside = sorted({url for url in fetched if not _local(url)})
    assert fetched and not outside, f"/{path} fetched from outside 127.0.0.1: {outside}"
    # ReDoc's bundle asks Redocly's CDN for its logo: the page's Content-Security-Policy stops it in the browser.
    assert all(_local(url) or why == "csp" for url, why in blocked), blocked  # "csp": net::ERR_BLOCKED_BY_CSP
    context.close()


def test_eval_results_follow_their_summary(fake_pipeline: Pipeline, browser: Any) -> None:
    """The evaluation tab: the results start right below the run's one-line summary, with no empty band."""
    lines = (Path(__file__).resolve().parent.parent / "corpus" / "questions.jsonl").read_text(encoding="utf-8")
    fake_pipeline.settings.questions_file.write_text("\n".join(lines.splitlines()[:12]) + "\n", encoding="utf-8")
    with serve_in_thread(create_app(AppState(fake_pipeline), settings=fake_pipeline.settings)) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(url)
        page.get_by_role("tab", name="評価 · Evaluation · 评估").click()
        page.locator("#rr-run-eval").click()
        page.locator("#rr-eval-results").wait_for(state="visible", timeout=TIMEOUT_MS)
        page.get_by_text("12 questions").wait_for(timeout=TIMEOUT_MS)
        status = page.locator("#rr-eval-status").bounding_box()
        results = page.locator("#rr-eval-results").bounding_box()
        assert status and results and 0 <= results["y"] - (status["y"] + status["height"]) < 40
        assert status["height"] < 60  # one line, not the progress bar's reserved height
        page.screenshot(path=str(SCREENSHOT.with_name("eval-screenshot.png")), full_page=True)
        page.close()
