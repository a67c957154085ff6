#!/usr/bin/env python3
"""Checks Nnl's logits for a model directory against transformers on the same files.

Nnl writes its logits with `nnl logits DIR --ids ... --out FILE` (float32 little-endian,
[positions, vocab]); this script runs the same ids through transformers in float32 on the GPU (no
TF32) and prints, per position, the relative error ||nnl - hf|| / ||hf||, and the argmax agreement.

usage: compare_logits.py DIR NNL_LOGITS.bin --ids 1,2,3 [--max-rel 1e-2]
"""
import argparse, json, sys
import numpy as np
import torch
from transformers import AutoModelForCausalLM


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("logits")
    p.add_argument("--ids", required=True)
    p.add_argument("--max-rel", type=float, default=1e-2)
    a = p.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ids = [int(x) for x in a.ids.split(",")]
    model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.float32, attn_implementation="eager").to("cuda:0").eval()
    with torch.no_grad():
        ref = model(torch.tensor([ids], device="cuda:0")).logits[0].double().cpu().numpy()
    nnl = np.fromfile(a.logits, dtype="<f4").astype(np.float64).reshape(len(ids), -1)
    rel = [float(np.linalg.norm(nnl[i] - ref[i]) / np.linalg.norm(ref[i])) for i in range(len(ids))]
    same_argmax = int(sum(int(nnl[i].argmax() == ref[i].argmax()) for i in range(len(ids))))
    out = {"model": a.dir, "positions": len(ids), "vocab": ref.shape[1], "max_relative_error": max(rel),
           "relative_error_per_position": [round(r, 6) for r in rel], "argmax_agreement": f"{same_argmax}/{len(ids)}",
           "transformers": __import__("transformers").__version__}
    print(json.dumps(out))
    sys.exit(0 if max(rel) <= a.max_rel else 1)


if __name__ == "__main__":
    main()
