"""A registered classifier against its ONNX export (`zoo-export format=onnx`), in one process,
one thread each, on SST-2 sentences (issue 23's ONNX item):

- agreement: the share of equal labels and the largest probability difference;
- one text per call: the network alone (torch against the ONNX Runtime session) and the
  registered model's `records([text])` (tokenizer, chunk, softmax around it), p50/p95;
- many texts: `columns(texts)` (the path `zoo-predict` and Spark take), CPU time, the least
  of interleaved rounds.

    python scripts/onnx_speed.py model=models:/sst2-sentiment@champion [onnx=models:/sst2-sentiment-onnx@champion]
        [texts=20000] [calls=2000] [rounds=3]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import torch
from batch_scoring import sentences
from inprocess_latency import TEXT, percentiles


def main(argv: list[str]) -> int:
    options = dict(a.split("=", 1) for a in argv)
    if "model" not in options:
        sys.exit("usage: onnx_speed.py model=models:/NAME@ALIAS [onnx=models:/NAME-onnx@ALIAS] [texts=20000]")
    from zoo.registry.loading import URI, load_registered
    from zoo.tasks.inference import pad_ids, token_ids

    torch.set_num_threads(1)  # before loading: the ONNX Runtime session takes torch's thread count
    match = URI.match(options["model"])
    assert match, "model= must be models:/NAME@ALIAS or models:/NAME/VERSION"
    onnx_uri = options.get("onnx") or f"models:/{match['name']}-onnx@{match['alias'] or 'champion'}"
    torch_model = load_registered(options["model"]).unwrap_python_model()
    onnx_model = load_registered(onnx_uri).unwrap_python_model()
    texts, calls = sentences(int(options.get("texts", "20000"))), int(options.get("calls", "2000"))

    expected, got = torch_model.columns(texts), onnx_model.columns(texts)
    same = np.mean(np.array(expected["label"]) == np.array(got["label"]))
    difference = np.abs(np.array(expected["probabilities"]) - np.array(got["probabilities"])).max()
    print(f"{options['model']} (torch) against {onnx_uri} (ONNX Runtime), 1 thread each")
    print(f"| agreement, {len(texts):,} texts | labels equal {same:.2%} | max probability difference "
          f"{difference:.1e} (both rounded to 6 places) |")
    one = pad_ids(token_ids(torch_model.model.tokenizer, [TEXT]))
    with torch.no_grad():
        print(f"| one text, network | torch {percentiles(lambda: torch_model.model.network(*one), calls)} | "
              f"onnxruntime {percentiles(lambda: onnx_model.model.runtime(*one), calls)} |")
    print(f"| one text, records([text]) | torch {percentiles(lambda: torch_model.records([TEXT]), calls)} | "
          f"onnxruntime {percentiles(lambda: onnx_model.records([TEXT]), calls)} |")
    best = {"torch": float("inf"), "onnxruntime": float("inf")}
    for _ in range(int(options.get("rounds", "3"))):
        for name, model in (("torch", torch_model), ("onnxruntime", onnx_model)):
            start = time.process_time()
            model.columns(texts)
            best[name] = min(best[name], time.process_time() - start)
    print(f"| {len(texts):,} texts, columns(texts), CPU s | torch {best['torch']:.2f} | onnxruntime "
          f"{best['onnxruntime']:.2f} ({best['torch'] / best['onnxruntime']:.2f}x less) |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
