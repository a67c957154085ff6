#!/usr/bin/env python3
"""What PyTorch and cuBLAS reach on the resident decode that issue 6's must-show 3 asks of Nnl: the same
model files (from `nnl new-model`), the same GPU, the same run, and the ceiling measured there too.

Always, first and last: the device-to-device copy of 256 MiB, counted read + write (Nnl's and
bandwidthTest's convention), the ceiling the parts are compared to.
Parts (each prints JSON lines; a part that fails prints its error and the others go on):
  products   the step's matrix products alone, as cuBLAS runs them, captured in one CUDA graph:
             every layer's c_attn, attention's c_proj, c_fc and the MLP's c_proj (each reading the one
             before's output), then lm_head; once as transformers calls them (Conv1D: addmm on the [in, out]
             weight) and once on the transposed [out, in] weight (nn.Linear's layout, F.linear). With
             `+adds` the residual adds and gelu between them too. No norms, no attention, no KV cache:
             a floor for any engine built on cuBLAS's one-token products.
  step       transformers' own decode step (static KV cache, greedy, the next token fed back on the GPU)
             captured in one CUDA graph: PyTorch's kernels without Python in the way.
  compiled   the same step through torch.compile(mode="reduce-overhead") (Inductor's fused kernels, CUDA
             graphs), the fastest way PyTorch offers.
Timing: CUDA events around R back-to-back replays (the GPU never waits for the host between steps, as in
Nnl's greedy pipeline), warm-up first, median of the samples; ms a step, weights GB/s (the model's
parameter bytes, tied embeddings once, as `nnl bench` counts them) and that as a share of the copy.

usage: torch_resident.py DIR [--parts products,step,compiled] [--samples 9] [--replays 16]
"""
import argparse, json, statistics, time, traceback
import torch
import torch.nn.functional as F

DEV = "cuda:0"


def emit(**kw):
    print(json.dumps(kw), flush=True)


def gbps(nbytes, ms):
    """Decimal GB/s of nbytes moved in ms milliseconds."""
    return nbytes / (ms * 1e-3) / 1e9


def per_call_ms(fn, samples, replays, warm=3):
    """Median over samples of (time of `replays` back-to-back calls) / replays, in ms."""
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    out = []
    for _ in range(samples):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(replays):
            fn()
        e.record()
        e.synchronize()
        out.append(s.elapsed_time(e) / replays)
    return statistics.median(out), out


def graphed(fn):
    """fn captured in a CUDA graph (after a warm-up on a side stream, as PyTorch requires)."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g


def copy_part(a):
    n = 256 << 20
    src = torch.empty(n, dtype=torch.uint8, device=DEV).random_()
    dst = torch.empty_like(src)
    ms, _ = per_call_ms(lambda: dst.copy_(src), a.samples, a.replays)
    rate = gbps(2 * n, ms)
    del src, dst
    emit(part="copy", bytes=n, ms=round(ms, 4), read_write_gbps=round(rate, 1))
    return rate


def load(a):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.float16, device_map={"": 0})
    model.eval()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    return model, weight_bytes


def products_part(a, model, weight_bytes, copy_gbps):
    blocks = model.transformer.h
    d = model.config.n_embd
    conv = [(b.attn.c_attn.weight, b.attn.c_attn.bias, b.attn.c_proj.weight, b.attn.c_proj.bias,
             b.mlp.c_fc.weight, b.mlp.c_fc.bias, b.mlp.c_proj.weight, b.mlp.c_proj.bias) for b in blocks]
    head = model.lm_head.weight            # [vocab, d]
    x0 = torch.randn(1, d, dtype=torch.float16, device=DEV) * 0.5
    bytes_products = sum(w.numel() * 2 for layer in conv for w in layer[0::2]) + head.numel() * 2

    lin = [tuple(t.t().contiguous() if i % 2 == 0 else t for i, t in enumerate(layer)) for layer in conv]
    # (layout, its weights, the product as transformers' Conv1D or nn.Linear computes it)
    layouts = (("conv1d-addmm", conv, lambda x, w, b: torch.addmm(b, x, w)),
               ("linear", lin, lambda x, w, b: F.linear(x, w, b)))

    def chain(layers, product, adds):
        def fn():
            x = x0
            for wa, ba, wo, bo, wf, bf, wp, bp in layers:
                qkv = product(x, wa, ba)
                o = product(qkv[:, :d], wo, bo)
                x = x + o if adds else o
                h = product(x, wf, bf)
                if adds:
                    h = F.gelu(h, approximate="tanh")
                p = product(h, wp, bp)
                x = x + p if adds else p
            return F.linear(x, head)
        return fn

    for layout, layers, product in layouts:
        for adds in (False, True):
            g = graphed(chain(layers, product, adds))
            ms, samples = per_call_ms(g.replay, a.samples, a.replays)
            rate = gbps(bytes_products, ms)
            emit(part="products", layout=layout, adds=adds, ms=round(ms, 4), product_bytes=bytes_products,
                 product_gbps=round(rate, 1), of_copy=round(rate / copy_gbps, 4), samples=[round(s, 4) for s in samples])
            del g
    del lin
    torch.cuda.empty_cache()


def make_cache(model, length):
    from transformers import StaticCache
    try:
        return StaticCache(config=model.config, max_cache_len=length)
    except TypeError:
        return StaticCache(config=model.config, max_batch_size=1, max_cache_len=length, device=DEV, dtype=torch.float16)


def decoder(model, forward, a, length):
    """A greedy decode step on the GPU: the prompt prefilled into a static cache, then step() feeds the
    argmax back as the next token and advances the position, with no host round trip."""
    cache = make_cache(model, length)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, model.config.vocab_size, (1, a.prompt_length), generator=g).to(DEV)
    with torch.no_grad():
        out = model(input_ids=ids, past_key_values=cache, cache_position=torch.arange(a.prompt_length, device=DEV), use_cache=True)
    tok = out.logits[:, -1:].argmax(-1)
    pos = torch.tensor([a.prompt_length], device=DEV)

    def step():
        with torch.no_grad():
            o = forward(input_ids=tok, past_key_values=cache, cache_position=pos, use_cache=True)
            tok.copy_(o.logits[:, -1:].argmax(-1))
            pos.add_(1)
    return step, pos


def report_step(part, ms, samples, weight_bytes, copy_gbps, **extra):
    rate = gbps(weight_bytes, ms)
    emit(part=part, ms_per_token=round(ms, 4), weight_bytes=weight_bytes, weight_gbps=round(rate, 1),
         of_copy=round(rate / copy_gbps, 4), samples=[round(s, 4) for s in samples], **extra)


def step_part(a, model, weight_bytes, copy_gbps):
    # Positions advance every call (warm-up, capture, samples): the cache is long enough for all of them.
    length = a.prompt_length + 8 + (3 + a.samples * a.replays) + 8
    step, pos = decoder(model, model, a, length)
    g = graphed(step)
    pos.fill_(a.prompt_length + 4)
    ms, samples = per_call_ms(g.replay, a.samples, a.replays, warm=0)
    report_step("step", ms, samples, weight_bytes, copy_gbps, attn=model.config._attn_implementation, positions=[a.prompt_length + 4, int(pos.item())])
    del g
    torch.cuda.empty_cache()


def compiled_part(a, model, weight_bytes, copy_gbps):
    t0 = time.time()
    forward = torch.compile(model, mode="reduce-overhead", fullgraph=False, dynamic=False)
    length = a.prompt_length + 16 + (3 + a.samples * a.replays) + 8
    step, pos = decoder(model, forward, a, length)
    for _ in range(6):         # compiles and records the CUDA graphs
        step()
    torch.cuda.synchronize()
    compile_s = time.time() - t0
    ms, samples = per_call_ms(step, a.samples, a.replays)
    report_step("compiled", ms, samples, weight_bytes, copy_gbps, compile_seconds=round(compile_s, 1),
                positions_end=int(pos.item()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--parts", default="products,step,compiled")
    p.add_argument("--samples", type=int, default=9)
    p.add_argument("--replays", type=int, default=16)
    p.add_argument("--prompt-length", type=int, default=16)
    a = p.parse_args()
    parts = a.parts.split(",")
    emit(part="env", torch=torch.__version__, transformers=__import__("transformers").__version__,
         gpu=torch.cuda.get_device_name(0), model=a.dir)
    copy_gbps = copy_part(a)
    model, weight_bytes = load(a)
    for name, fn in (("products", products_part), ("step", step_part), ("compiled", compiled_part)):
        if name not in parts:
            continue
        try:
            fn(a, model, weight_bytes, copy_gbps)
        except Exception as e:  # report and go on: one part's failure leaves the others' figures
            emit(part=name, error=f"{type(e).__name__}: {e}", trace=traceback.format_exc()[-2000:])
    copy_part(a)   # the ceiling again, after


if __name__ == "__main__":
    main()
