"""The chat UI's API for Gradio clients (ui/api.py), through gradio_client against a real `rag serve` on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gradio_client import Client
from serve_process import hash_settings

from bench import loadtest

Q = "ロボット政策の2027年の目標は？"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    from conftest import _sample_corpus

    tmp = tmp_path_factory.mktemp("ui-api")
    env = hash_settings(_sample_corpus(tmp), tmp)
    with loadtest.server(env=env, ui=True, ready_within=90, log=tmp / "server.log") as (base, _):
        yield Client(base + "/", verbose=False)


def test_only_ask_and_search_are_offered(client: Client) -> None:
    api = client.view_api(return_format="dict", print_info=False)
    assert sorted(api["named_endpoints"]) == ["/ask", "/search"] and not api["unnamed_endpoints"]
    ask = api["named_endpoints"]["/ask"]
    assert [p["parameter_name"] for p in ask["parameters"]] == ["question", "k"] and "plain text" in ask["description"]


def test_ask_gives_plain_text_and_citations(client: Client) -> None:
    answer = client.predict(question=Q, api_name="/ask")
    assert set(answer) == {"answer", "language", "abstained", "citations"}
    assert answer["language"] == "ja" and not answer["abstained"] and "[1]" in answer["answer"]
    assert "<" not in answer["answer"]  # no HTML: the chat's messages are HTML, this is not
    first = answer["citations"][0]
    assert first["n"] == 1 and first["section"] == "1-1"
    assert all(cell in answer["answer"] for cell in first["quote"].split(" | "))


def test_search_gives_ranked_passages(client: Client) -> None:
    hits = client.predict(query="ロボット政策", k=2, api_name="/search")
    assert [h["rank"] for h in hits] == [1, 2] and all(h["text"] and h["section"] for h in hits)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"question": "🙂🙂", "k": 5}, "no letters"), ({"question": Q, "k": 0}, "k must be")]
)
def test_bad_input_is_an_error_that_says_why(client: Client, kwargs: dict[str, object], message: str) -> None:
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict(**kwargs, api_name="/ask")


def test_the_chat_handlers_cannot_be_called(client: Client) -> None:
    with pytest.raises(ValueError, match="api_name"):  # once auto-named /partial, /partial_1, ...
        client.predict(Q, [], {}, api_name="/partial")
