#!/usr/bin/env python3
"""transformers + accelerate on the same model files as Nnl: the usual way to run a model that does
not fit, for a side-by-side figure. Loads DIR in fp16 with device_map="auto" and
max_memory={0: BUDGET, "cpu": ...} (accelerate keeps what fits on the GPU and streams the rest from
CPU memory through hooks), then times greedy decoding: generate(N+1 tokens) minus generate(1 token),
divided by N, after a warm-up; median of REPS. Prints one JSON line.

usage: hf_offload.py DIR --budget 2GiB [--tokens 16] [--prompt-length 16] [--reps 3]
"""
import argparse, json, time, statistics
import torch
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--budget", default=None, help="GPU memory for accelerate, e.g. 2GiB; omit for fully resident")
    p.add_argument("--tokens", type=int, default=16)
    p.add_argument("--prompt-length", type=int, default=16)
    p.add_argument("--reps", type=int, default=3)
    a = p.parse_args()

    t0 = time.time()
    kwargs = dict(dtype=torch.float16)
    if a.budget:
        kwargs.update(device_map="auto", max_memory={0: a.budget, "cpu": "110GiB"})
    else:
        kwargs.update(device_map={"": 0})
    model = AutoModelForCausalLM.from_pretrained(a.dir, **kwargs)
    model.eval()
    load_s = time.time() - t0
    on_gpu = sum(p.numel() * p.element_size() for p in model.parameters() if p.device.type == "cuda")
    total = sum(p.numel() * p.element_size() for p in model.parameters())
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, model.config.vocab_size, (1, a.prompt_length), generator=g).to("cuda:0")

    def run(n):
        torch.cuda.synchronize()
        s = time.perf_counter()
        with torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
        torch.cuda.synchronize()
        return time.perf_counter() - s

    run(2)  # warm-up
    per_token = []
    for _ in range(a.reps):
        first = run(1)
        full = run(a.tokens + 1)
        per_token.append((full - first) / a.tokens)
    ms = statistics.median(per_token) * 1000
    print(json.dumps({
        "engine": "transformers+accelerate", "transformers": __import__("transformers").__version__, "torch": torch.__version__,
        "model": a.dir, "budget": a.budget or "resident", "load_seconds": round(load_s, 1),
        "weight_bytes": total, "weight_bytes_on_gpu": on_gpu, "streamed_bytes_per_token": total - on_gpu,
        "decode_ms_per_token": round(ms, 3), "decode_tokens_per_second": round(1000 / ms, 2),
        "samples_ms": [round(x * 1000, 3) for x in per_token],
        "peak_gpu_bytes": torch.cuda.max_memory_allocated(),
    }), flush=True)


if __name__ == "__main__":
    main()
