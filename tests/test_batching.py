"""zoo-serve's batching lane (zoo.registry.batching): which requests it takes, that concurrent
requests are scored together and each gets its own records back in order, and that every
other request reaches MLflow's app with its body intact."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from zoo.registry.batching import MAX_BATCH_TEXTS, Batcher, BatchingLane, answer, is_lane_request, plain_texts


@pytest.mark.parametrize(("payload", "texts"), [
    ({"inputs": {"text": ["a", "b"]}}, ["a", "b"]),
    ({"dataframe_split": {"columns": ["text"], "data": [["a"], ["b"]]}}, ["a", "b"]),
    ({"dataframe_records": [{"text": "a"}, {"text": "b"}]}, ["a", "b"]),
    ({"inputs": {"text": ["a"]}, "params": {"explain": True}}, None),  # params: MLflow's app
    ({"inputs": {"text": "a"}}, None),  # not a list: MLflow decides what it means
    ({"inputs": {"text": ["a", " "]}}, None),  # a blank text: MLflow's app refuses it in its words
    ({"inputs": {"text": ["a", 3]}}, None),
    ({"inputs": {"text": []}}, None),
    ({"inputs": {"text": ["a"], "id": ["x"]}}, None),
    ({"dataframe_split": {"columns": ["id", "text"], "data": [["x", "a"]]}}, None),
    ({"dataframe_split": {"columns": ["text"], "data": [["a"]], "index": [7]}}, None),
    ({"dataframe_records": [{"text": "a"}, {"txt": "b"}]}, None),
    ({"instances": ["a"]}, None),
    (["a"], None),
])
def test_only_plain_text_payloads_take_the_lane(payload: Any, texts: list[str] | None) -> None:
    assert plain_texts(json.dumps(payload).encode()) == texts


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe", b"null", b'"text"'])
def test_a_body_that_is_not_a_json_object_goes_to_mlflow(body: bytes) -> None:
    assert plain_texts(body) is None


def _scope(content_type: bytes = b"application/json", length: bytes = b"10", path: str = "/invocations",
           method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path,
            "headers": [(b"content-type", content_type), (b"content-length", length)]}


@pytest.mark.parametrize(("scope", "taken"), [
    (_scope(), True),
    (_scope(b"application/json; charset=UTF-8"), True),
    (_scope(b"application/json; charset=latin-1"), False),
    (_scope(b"text/csv"), False),
    (_scope(path="/ping", method="GET"), False),
    (_scope(length=b"99999999"), False),
    ({"type": "http", "method": "POST", "path": "/invocations", "headers": [(b"content-type", b"application/json")]},
     False),  # chunked: no length to bound it by
    ({"type": "lifespan"}, False),
])
def test_the_lane_takes_json_posts_to_invocations_only(scope: dict[str, Any], taken: bool) -> None:
    assert is_lane_request(scope) is taken


def test_concurrent_requests_are_scored_together_each_answered_in_order() -> None:
    calls: list[list[str]] = []
    release = threading.Event()

    def score(texts: list[str]) -> list[dict[str, Any]]:
        calls.append(texts)
        release.wait(5)  # the first batch is still running while the others arrive
        return [{"label": len(t)} for t in texts]

    async def clients() -> list[list[dict[str, Any]]]:
        batcher = Batcher(score)
        first = asyncio.create_task(batcher(["a"]))
        await asyncio.sleep(0.05)
        rest = [asyncio.create_task(batcher(["b" * i, "c" * (i + 10)])) for i in range(1, 8)]
        await asyncio.sleep(0.05)
        release.set()
        answers = [await first, *[await task for task in rest]]
        assert (batcher.batches, batcher.requests) == (2, 8)
        return answers

    answers = asyncio.run(clients())
    assert calls[0] == ["a"] and len(calls) == 2 and len(calls[1]) == 14  # seven requests, one network call
    assert answers[0] == [{"label": 1}]
    assert answers[1:] == [[{"label": i}, {"label": i + 10}] for i in range(1, 8)]


def test_a_batch_stops_growing_at_its_bound_but_takes_one_big_request_whole() -> None:
    sizes: list[int] = []

    def score(texts: list[str]) -> list[dict[str, Any]]:
        sizes.append(len(texts))
        return [{"label": 0}] * len(texts)

    async def clients() -> None:
        batcher = Batcher(score)
        await asyncio.gather(batcher(["x"] * (MAX_BATCH_TEXTS + 5)), batcher(["y"] * 600), batcher(["z"] * 400),
                             batcher(["w"] * 30))

    asyncio.run(clients())
    assert sizes == [MAX_BATCH_TEXTS + 5, 1000, 30]  # 600 + 400 fit under the bound; 30 more would not


def _call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body[:3], "more_body": True},
              {"type": "http.request", "body": body[3:], "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _mlflow_stand_in(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Echoes the body it reads: what the lane hands to MLflow's app must arrive whole."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 299, "headers": []})
    await send({"type": "http.response.body", "body": b"mlflow:" + body})


def test_the_lane_answers_plain_requests_and_hands_every_other_to_mlflow_whole() -> None:
    lane = BatchingLane(_mlflow_stand_in, lambda texts: [{"label": 1, "label_name": "pos"} for _ in texts])
    plain = json.dumps({"inputs": {"text": ["a gripping film"]}}).encode()
    assert _call(lane, _scope(length=str(len(plain)).encode()), plain) == (
        200, answer([{"label": 1, "label_name": "pos"}]))
    with_params = json.dumps({"inputs": {"text": ["a"]}, "params": {"explain": True}}).encode()
    assert _call(lane, _scope(length=str(len(with_params)).encode()), with_params) == (299, b"mlflow:" + with_params)
    assert _call(lane, _scope(b"text/csv"), b"text\na film\n") == (299, b"mlflow:text\na film\n")


def test_a_scoring_failure_in_the_lane_is_answered_by_mlflow() -> None:
    def broken(texts: list[str]) -> list[dict[str, Any]]:
        raise RuntimeError("boom")

    plain = json.dumps({"inputs": {"text": ["a"]}}).encode()
    assert _call(BatchingLane(_mlflow_stand_in, broken), _scope(), plain) == (299, b"mlflow:" + plain)
