"""One text per call, in one process: the registered pyfunc's `predict(DataFrame)`, its
`records(texts)` (no pandas, no schema enforcement) and the bare network on the same tokens,
p50/p95 over `calls` calls after a warm-up (issue 23's in-process target).

    python scripts/inprocess_latency.py model=models:/sst2-sentiment@champion [threads=1] [calls=3000]
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import pandas as pd
import torch

TEXT = "a gripping , funny and moving film"


def percentiles(call: Callable[[], object], calls: int) -> str:
    for _ in range(max(100, calls // 10)):
        call()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    cuts = statistics.quantiles(times, n=100)
    return f"p50 {cuts[49] * 1000:.3f} ms | p95 {cuts[94] * 1000:.3f} ms"


def main(argv: list[str]) -> int:
    options = dict(a.split("=", 1) for a in argv)
    if "model" not in options:
        sys.exit("usage: inprocess_latency.py model=models:/NAME@ALIAS [threads=1] [calls=3000]")
    from zoo.registry.loading import load_registered
    from zoo.tasks.inference import pad_ids, token_ids

    torch.set_num_threads(int(options.get("threads", "1")))
    calls = int(options.get("calls", "3000"))
    model = load_registered(options["model"])
    inner = model.unwrap_python_model()
    tokens = pad_ids(token_ids(inner.model.tokenizer, [TEXT]))
    frame = pd.DataFrame({"text": [TEXT]})
    print(f"{options['model']}, {torch.get_num_threads()} torch thread(s), {calls} calls, one text: {TEXT!r}")
    with torch.no_grad():
        print(f"| bare network (tokens in) | {percentiles(lambda: inner.model.network(*tokens), calls)} |")
    if hasattr(inner, "records"):
        print(f"| records([text]) | {percentiles(lambda: inner.records([TEXT]), calls)} |")
    print(f"| predict(DataFrame) | {percentiles(lambda: model.predict(frame), calls)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
