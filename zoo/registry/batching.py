"""The batching lane of `zoo-serve`: plain classification requests, scored together.

MLflow's scoring server handles each request alone: JSON into a DataFrame, the schema
enforced, a thread hop, one network call for one text, the DataFrame back into JSON. That is
about 7 ms around a network forward of well under 1 ms, and concurrent clients only queue
(issue 23). This lane sits in front of it as plain ASGI. A request whose body is one of the
payloads MLflow documents, with a `text` column of non-blank strings and no `params`
(`{"inputs": {"text": [...]}}`, `{"dataframe_split": ...}`, `{"dataframe_records": [...]}`),
to a classifier, is scored here. Requests that arrive while a batch runs join the next one,
so the network runs once for many clients (continuous batching: no timer, and a lone request
waits for nothing). The answer is the bytes MLflow would send. Every other request (CSV,
params, generation, anything malformed) goes on to MLflow's app unchanged, so its answers
and its one-line refusals stay as they were."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Score = Callable[[list[str]], list[dict[str, Any]]]  # texts -> one record per text, in order

MAX_BATCH_TEXTS = 1024  # a batch never grows past this many texts (one request may bring more)
MAX_LANE_BODY = 1 << 20  # bigger bodies go to MLflow's app, which streams nothing either but is not ours to bound


def plain_texts(body: bytes) -> list[str] | None:
    """The texts of a plain classification payload, or None for anything else."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict) or len(payload) != 1:
        return None  # params, or several formats at once: MLflow decides
    (key, value), = payload.items()
    texts: Any = None
    if key == "inputs" and isinstance(value, dict) and list(value) == ["text"]:
        texts = value["text"]
    elif key == "dataframe_split" and isinstance(value, dict) and value.get("columns") == ["text"] \
            and set(value) <= {"columns", "data", "index"} and "index" not in value:
        rows = value.get("data")
        if isinstance(rows, list) and all(isinstance(r, list) and len(r) == 1 for r in rows):
            texts = [r[0] for r in rows]
    elif key == "dataframe_records" and isinstance(value, list) \
            and all(isinstance(r, dict) and list(r) == ["text"] for r in value):
        texts = [r["text"] for r in value]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        return None
    return texts


def answer(records: list[dict[str, Any]]) -> bytes:
    """The body MLflow's server sends for a DataFrame of these records (json.dump's separators)."""
    return json.dumps({"predictions": records}).encode()


@dataclass
class Batcher:
    """Scores the texts of concurrent requests in one call, one batch at a time, in a thread
    so the event loop keeps reading requests meanwhile."""

    score: Score
    waiting: list[tuple[list[str], asyncio.Future[list[dict[str, Any]]]]] = field(default_factory=list)
    running: asyncio.Task[None] | None = None
    batches: int = 0  # batches scored, and the requests in them: how much batching happened
    requests: int = 0

    async def __call__(self, texts: list[str]) -> list[dict[str, Any]]:
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self.waiting.append((texts, future))
        if self.running is None or self.running.done():
            self.running = asyncio.create_task(self._drain())
        return await future

    def _take(self) -> list[tuple[list[str], asyncio.Future[list[dict[str, Any]]]]]:
        batch, size = [], 0
        while self.waiting and (not batch or size + len(self.waiting[0][0]) <= MAX_BATCH_TEXTS):
            size += len(self.waiting[0][0])
            batch.append(self.waiting.pop(0))
        return batch

    async def _drain(self) -> None:
        while self.waiting:
            batch = self._take()
            texts = [t for request, _ in batch for t in request]
            try:
                records = await asyncio.to_thread(self.score, texts)
            except Exception as err:  # noqa: BLE001 - each request learns it failed and goes to MLflow
                for _, future in batch:
                    if not future.done():
                        future.set_exception(err)
                continue
            self.batches, self.requests = self.batches + 1, self.requests + len(batch)
            start = 0
            for request, future in batch:
                if not future.done():
                    future.set_result(records[start:start + len(request)])
                start += len(request)


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole request body, and the messages it came in (to replay them to MLflow's app)."""
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return b"".join(chunks), messages
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), messages


def is_lane_request(scope: Scope) -> bool:
    if scope.get("type") != "http" or scope.get("method") != "POST" or scope.get("path") != "/invocations":
        return False
    headers = dict(scope.get("headers") or [])
    mime, *rest = [p.strip().lower() for p in headers.get(b"content-type", b"").decode("latin-1").split(";")]
    length = headers.get(b"content-length", b"")  # none (a chunked body): its size is unknown, MLflow's app takes it
    return (mime == "application/json" and all(p == "charset=utf-8" for p in rest)
            and length.isdigit() and int(length) <= MAX_LANE_BODY)


class BatchingLane:
    """ASGI app: the batching lane in front of `inner` (MLflow's scoring app)."""

    def __init__(self, inner: ASGIApp, score: Score) -> None:
        self.inner, self.batcher = inner, Batcher(score)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not is_lane_request(scope):
            await self.inner(scope, receive, send)
            return
        body, messages = await read_body(receive)
        texts = plain_texts(body)
        if texts is not None:
            try:
                records = await self.batcher(texts)
            except Exception:  # noqa: BLE001 - MLflow's app answers it, with its own error if there is one
                records = None
            if records is not None:
                content = answer(records)
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"content-length", str(len(content)).encode())]})
                await send({"type": "http.response.body", "body": content})
                return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.inner(scope, replay, send)
