#!/usr/bin/env python3
"""Nnl's pinned medians against three ways of timing torch's pinned copies, size by size.

usage: compare_references.py TORCH.jsonl NNL.jsonl [NNL.jsonl...] > references.md
References (torch_bandwidth.py): eager copy_ (--what pinned), copy_ captured in a CUDA graph
(--what pinned-graph) and the driver's cuMemcpy*Async on the same pinned tensors (--what
pinned-driver). Prints one table and, per reference, the range of Nnl / reference and the sizes
outside 0.97..1.03.
"""
import json
import sys


def load(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip().startswith("{")]


def main():
    torch_rows = load(sys.argv[1])
    nnl = {(r["Direction"], r["Bytes"]): r["MedianGBps"] for p in sys.argv[2:] for r in load(p)
           if r.get("HostMemory") == "Pinned" and r.get("Mechanism", "CopyEngine") == "CopyEngine"
           and r.get("Streams", 1) == 1 and not r.get("TensorSet") and r["Direction"] in ("HostToDevice", "DeviceToHost")}
    refs = {}
    for r in torch_rows:
        if r.get("HostMemory") != "Pinned" or r.get("TensorSet"):
            continue
        refs.setdefault(r.get("Variant", "eager"), {})[(r["Direction"], r["Bytes"])] = r["MedianGBps"]
    names = [n for n in refs if refs[n]]
    print("| Direction | Bytes | Nnl | " + " | ".join(f"torch {n} | ratio" for n in names) + " |")
    print("|---|---:|---:|" + "---:|---:|" * len(names))
    ratios = {n: [] for n in names}
    for key in sorted(nnl, key=lambda k: (k[0], k[1])):
        cells = []
        for n in names:
            ref = refs[n].get(key)
            if ref is None:
                cells += ["", ""]
                continue
            q = nnl[key] / ref
            ratios[n].append((q, key))
            cells += [f"{ref:.2f}", f"{q:.3f}"]
        print(f"| {key[0]} | {key[1]} | {nnl[key]:.2f} | " + " | ".join(cells) + " |")
    print()
    for n in names:
        if not ratios[n]:
            continue
        qs = [q for q, _ in ratios[n]]
        out = [(round(q, 3), k[0], k[1]) for q, k in ratios[n] if not 0.97 <= q <= 1.03]
        print(f"- torch {n}: {len(qs)} points, Nnl/torch {min(qs):.3f}..{max(qs):.3f}; outside 3%: {len(out)} {out[:20]}")


if __name__ == "__main__":
    main()
