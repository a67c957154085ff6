#!/usr/bin/env python3
"""Side-by-side table of Nnl (nnl transfer --json) and torch (torch_bandwidth.py) medians.

usage: compare.py TORCH.jsonl NNL.jsonl [NNL.jsonl...] > comparison.md
Checks the issue's bar: pinned HostToDevice and DeviceToHost medians within 3% of torch's at every
size, and at 64 MB and above at least 97% of the best pinned median torch reached in the run.
Exit status 0 when the bar is met, 1 when not.
"""
import json
import sys


def load(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def key(r):
    return (r["Direction"], r.get("HostMemory"), r["Bytes"], r.get("TensorCount", 1))


def main():
    torch_rows = load(sys.argv[1])
    nnl_rows = [r for p in sys.argv[2:] for r in load(p) if r.get("Mechanism", "CopyEngine") == "CopyEngine" and r.get("Streams", 1) == 1]
    torch_by = {key(r): r for r in torch_rows if not r.get("TensorSet")}
    nnl_by = {key(r): r for r in nnl_rows if r["Direction"] != "Bidirectional" and not r.get("TensorSet")}
    failures = []
    device = next((r["DeviceName"] for r in nnl_rows), "?")
    print(f"Device: {device}; torch: {torch_rows[0]['Implementation'] if torch_rows else '?'}\n")
    best = {}
    for d in ["HostToDevice", "DeviceToHost"]:
        vals = [r["MedianGBps"] for r in torch_rows if r["Direction"] == d and r.get("HostMemory") in ("Pinned", "Registered") and not r.get("TensorSet")]
        best[d] = max(vals) if vals else None
    # Pinned: Nnl's pinned figure against torch's pin_memory() and cudaHostRegister'ed memory.
    print("### Pinned host memory (Nnl Pinned; torch pin_memory() and torch cudaHostRegister)\n")
    print("| Bytes | Copies/sample | H2D Nnl | H2D torch pin_memory | ratio | H2D torch registered | ratio | D2H Nnl | D2H torch pin_memory | ratio | D2H torch registered | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    worst = {"Pinned": 0.0, "Registered": 0.0}
    bar = {"Pinned": True, "Registered": True}
    sizes = sorted({k[2] for k in nnl_by if k[1] == "Pinned" and k[3] == 1})
    for n in sizes:
        cells = []
        copies = ""
        for d in ["HostToDevice", "DeviceToHost"]:
            a = nnl_by.get((d, "Pinned", n, 1))
            if a is None:
                cells.append(" | | | | ")
                continue
            copies = a.get("CopiesPerSample", "")
            cell = [f"{a['MedianGBps']:.2f}"]
            for ref in ["Pinned", "Registered"]:
                b = torch_by.get((d, ref, n, 1))
                if b is None:
                    cell += ["", ""]
                    continue
                ratio = a["MedianGBps"] / b["MedianGBps"]
                worst[ref] = max(worst[ref], abs(ratio - 1))
                mark = ""
                if abs(ratio - 1) > 0.03:
                    bar[ref] = False
                    mark = " ✗"
                    failures.append(f"{d} {n:,}: ratio {ratio:.4f} to torch {ref}")
                cell += [f"{b['MedianGBps']:.2f}", f"{ratio:.3f}{mark}"]
            if n >= 64_000_000 and best[d] and a["MedianGBps"] < 0.97 * best[d]:
                bar["Pinned"] = bar["Registered"] = False
                failures.append(f"{d} {n:,}: {a['MedianGBps']:.2f} < 97% of torch best {best[d]:.2f}")
            cells.append(" | ".join(cell))
        print(f"| {n:,} | {copies} | " + " | ".join(cells) + " |")
    print()
    for section, rows in [("Pageable", "Pageable"), ("Device", None)]:
        dirs = ["DeviceToDevice"] if rows is None else ["HostToDevice", "DeviceToHost"]
        print(f"### {section}\n")
        print("| Bytes | " + " | ".join(f"{d} Nnl GB/s | torch GB/s | ratio" for d in dirs) + " |")
        print("|---:|" + "---:|---:|---:|" * len(dirs))
        sizes = sorted({k[2] for k in nnl_by if k[1] == rows and k[0] in dirs and k[3] == 1})
        for n in sizes:
            cells = []
            for d in dirs:
                a, b = nnl_by.get((d, rows, n, 1)), torch_by.get((d, rows, n, 1))
                if a is None or b is None:
                    cells.append(" | | ")
                    continue
                cells.append(f"{a['MedianGBps']:.2f} | {b['MedianGBps']:.2f} | {a['MedianGBps'] / b['MedianGBps']:.3f}")
            print(f"| {n:,} | " + " | ".join(cells) + " |")
        print()
    print("### Tensor pattern (llama-2-7b-block, fp16, host to device)\n")
    print("| Way | Tensors | Nnl GB/s | Nnl ms/layer | torch GB/s | ratio | Nnl speedup over separate pageable | torch speedup |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in [r for r in nnl_rows if r.get("TensorSet")]:
        t = next((x for x in torch_rows if x.get("TensorSet") and x["HostMemory"] == r["HostMemory"] and x["TensorCount"] == r["TensorCount"]), None)
        way = "packed pinned" if r["TensorCount"] == 1 else f"separate {r['HostMemory'].lower()}"
        sp = f"{r['SpeedupOverSeparate']:.2f}x" if r.get("SpeedupOverSeparate") else ""
        tsp = f"{t['SpeedupOverSeparate']:.2f}x" if t and t.get("SpeedupOverSeparate") else ""
        tg = f"{t['MedianGBps']:.2f}" if t else ""
        ratio = f"{r['MedianGBps'] / t['MedianGBps']:.3f}" if t else ""
        print(f"| {way} | {r['TensorCount']} | {r['MedianGBps']:.2f} | {r['MedianMicroseconds'] / 1000:.2f} | {tg} | {ratio} | {sp} | {tsp} |")
    print()
    print(f"Best torch pinned medians: HostToDevice {best['HostToDevice']}, DeviceToHost {best['DeviceToHost']}")
    unverified = [key(r) for r in nnl_rows if not r.get("Verified", True)]
    print(f"Nnl results not verified: {len(unverified)} {unverified[:5]}")
    ok = bar["Pinned"] or bar["Registered"]
    print(f"\nLargest deviation from torch: {worst['Pinned']:.2%} (pin_memory), {worst['Registered']:.2%} (cudaHostRegister)")
    print(f"Bar (pinned within 3% at every size; >= 97% of torch's best pinned median at >= 64 MB): "
          f"against torch pin_memory() {'MET' if bar['Pinned'] else 'MISSED'}; against torch cudaHostRegister {'MET' if bar['Registered'] else 'MISSED'}")
    for f in failures:
        print(f"- {f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
