#!/usr/bin/env python3
"""Reference logits from transformers for a model directory that New-NnlModel wrote.

Loads the directory with AutoModelForCausalLM (random weights of a published shape, so no download),
tokenizes the prompt with PreTrainedTokenizerFast over the directory's tokenizer.json, runs one
forward pass and writes the ids and the logits of every prompt position as JSON. Nnl's parity test
(tests/Nnl.Engine.Tests/Presets/ReferenceParityTests.cs, run with NNL_REFERENCE_LOGITS=<the json>)
loads the same directory in Nnl and compares ids and logits.

    python3 tools/reference/reference_logits.py /tmp/m --out /tmp/m-reference.json
"""
import argparse
import json
import os
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="model directory written by New-NnlModel / nnl new-model")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--prompt", default="The quick brown fox jumps over the lazy dog, and Nnl streams the weights.")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="compute dtype (float32: the stored fp16/bf16 weights are widened exactly, as Nnl's CPU engine does)")
    args = p.parse_args()

    model_dir = os.path.abspath(args.model)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"))
    ids = tokenizer(args.prompt, add_special_tokens=False)["input_ids"]
    if tokenizer.decode(ids) != args.prompt:
        print("tokenizer round trip failed", file=sys.stderr)
        return 1

    dtype = getattr(torch, args.dtype)
    started = time.time()
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager")
    except TypeError:  # transformers 4.x spells it torch_dtype
        model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype, attn_implementation="eager")
    model = model.to(args.device).eval()
    load_seconds = time.time() - started

    with torch.no_grad():
        logits = model(torch.tensor([ids], device=args.device)).logits[0].float().cpu()

    result = {
        "model": model_dir,
        "architecture": model.config.architectures[0] if model.config.architectures else type(model).__name__,
        "parameters": sum(t.numel() for t in model.parameters()),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "device": args.device,
        "dtype": args.dtype,
        "load_seconds": load_seconds,
        "prompt": args.prompt,
        "input_ids": ids,
        "vocab_size": logits.shape[-1],
        "logits": logits.tolist(),
    }
    with open(args.out, "w") as f:
        json.dump(result, f)
    print(f"{result['architecture']} {result['parameters']:,} parameters, {len(ids)} tokens, "
          f"logits {tuple(logits.shape)} → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
