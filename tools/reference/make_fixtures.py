#!/usr/bin/env python3
"""Parity fixtures for Nnl's CPU engine (issue 5) and, later, its GPU engine (issue 6).

Builds tiny random-weight models with transformers (GPT-2 in two shapes, Llama with grouped-query
attention, Llama 3.1 rope scaling, Qwen2 with q/k/v biases, Mistral with a sliding window shorter
than the sequence), saves each with
save_pretrained (safetensors, float32) and writes the reference the C# test compares against:

  <out>/<name>/config.json, model.safetensors, generation_config.json   (save_pretrained)
  <out>/<name>/reference.json   prompt ids, 16 greedy tokens, shapes, versions
  <out>/<name>/logits.bin       float32 little-endian [positions, vocab], positions = prompt + 16

The logits of every position come from one full float32 forward pass over prompt + generated
tokens (eager attention, on the CPU so no TF32); the generated tokens are transformers' own greedy
choices, one full forward per step (no cache), so the reference never depends on a KV cache.

Run on the GPU host:  python3 tools/reference/make_fixtures.py --out tests/Nnl.Engine.Tests/Fixtures/Models
"""
import argparse
import inspect
import json
import math
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM)

PROMPT_LENGTH = 8
DECODE_STEPS = 16
MAX_FIXTURE_BYTES = 1_000_000


def rope_kwargs(config_class, theta, scaling=None):
    """transformers 5 takes rope_parameters={rope_type, rope_theta, ...}; 4.x takes rope_theta + rope_scaling."""
    params = inspect.signature(config_class.__init__).parameters
    if "rope_parameters" in params:
        rope = dict(scaling) if scaling else {"rope_type": "default"}
        rope["rope_theta"] = theta
        return {"rope_parameters": rope}
    kwargs = {"rope_theta": theta}
    if scaling:
        kwargs["rope_scaling"] = dict(scaling)
    return kwargs


def specs():
    llama3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
              "original_max_position_embeddings": 32}
    return [
        ("gpt2-a", GPT2LMHeadModel, GPT2Config(
            n_embd=64, n_layer=2, n_head=4, n_positions=64, vocab_size=256, layer_norm_epsilon=1e-5,
            activation_function="gelu_new", bos_token_id=255, eos_token_id=255)),
        ("gpt2-b", GPT2LMHeadModel, GPT2Config(
            n_embd=48, n_layer=3, n_head=3, n_positions=40, n_inner=100, vocab_size=320, layer_norm_epsilon=1e-5,
            activation_function="gelu_new", bos_token_id=319, eos_token_id=319)),
        ("llama-gqa", LlamaForCausalLM, LlamaConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
            vocab_size=256, max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=False,
            bos_token_id=1, eos_token_id=2, **rope_kwargs(LlamaConfig, 10000.0))),
        ("llama31-scaling", LlamaForCausalLM, LlamaConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=16,
            intermediate_size=96, vocab_size=288, max_position_embeddings=256, rms_norm_eps=1e-5,
            tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
            **rope_kwargs(LlamaConfig, 500000.0, llama3))),
        ("qwen2-bias", Qwen2ForCausalLM, Qwen2Config(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=112,
            vocab_size=300, max_position_embeddings=128, rms_norm_eps=1e-6, tie_word_embeddings=False,
            use_sliding_window=False, bos_token_id=1, eos_token_id=2, **rope_kwargs(Qwen2Config, 1000000.0))),
        ("mistral", MistralForCausalLM, MistralConfig(
            hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, intermediate_size=128,
            vocab_size=256, max_position_embeddings=128, rms_norm_eps=1e-5, tie_word_embeddings=False,
            sliding_window=12, bos_token_id=1, eos_token_id=2, **rope_kwargs(MistralConfig, 10000.0))),
    ]


def randomize(model, generator):
    """transformers' init (std 0.02) makes nearly uniform logits; parity needs weights that matter."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.1)
            elif p.dim() == 1:  # LayerNorm / RMSNorm weights
                p.copy_(1.0 + torch.randn(p.shape, generator=generator) * 0.1)
            elif "wte" in name or "wpe" in name or "embed_tokens" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.5)
            else:
                # nn.Linear is [out, in]; GPT-2 Conv1D is [in, out]: either way scale by the input width.
                fan_in = p.shape[0] if "c_attn" in name or "c_fc" in name or "c_proj" in name else p.shape[1]
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(fan_in))


def save(model, directory):
    try:
        model.save_pretrained(directory, safe_serialization=True)
    except TypeError:  # transformers versions where safetensors is the only format
        model.save_pretrained(directory)


def make(name, model_class, config, out, seed):
    torch.manual_seed(seed)
    config._attn_implementation = "eager"
    model = model_class(config).to(torch.float32).eval()
    generator = torch.Generator().manual_seed(seed)
    randomize(model, generator)
    if getattr(config, "tie_word_embeddings", False) and hasattr(model, "tie_weights"):
        model.tie_weights()

    directory = os.path.join(out, name)
    shutil.rmtree(directory, ignore_errors=True)
    save(model, directory)

    vocab = config.vocab_size
    prompt = torch.randint(3, vocab - 1, (1, PROMPT_LENGTH), generator=generator)
    ids = prompt
    with torch.no_grad():
        for _ in range(DECODE_STEPS):
            logits = model(input_ids=ids, use_cache=False).logits[0, -1]
            ids = torch.cat([ids, logits.argmax().view(1, 1)], dim=1)
        # The final token's logits are not needed to choose anything, but the reference covers it too.
        all_logits = model(input_ids=ids, use_cache=False).logits[0].to(torch.float32).numpy()

    positions = ids.shape[1]
    assert all_logits.shape == (positions, vocab), all_logits.shape
    all_logits.astype("<f4").tofile(os.path.join(directory, "logits.bin"))
    ids_list = ids[0].tolist()
    reference = {
        "name": name,
        "architecture": type(model).__name__,
        "prompt_ids": ids_list[:PROMPT_LENGTH],
        "generated_ids": ids_list[PROMPT_LENGTH:],
        "positions": positions,
        "vocab_size": vocab,
        "logits_file": "logits.bin",
        "logits_dtype": "float32-le",
        "logits_layout": "[positions, vocab]",
        "seed": seed,
        "torch_version": torch.__version__,
        "transformers_version": transformers.__version__,
    }
    with open(os.path.join(directory, "reference.json"), "w") as f:
        json.dump(reference, f, indent=2)

    total = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
    if total > MAX_FIXTURE_BYTES:
        raise SystemExit(f"{name}: fixture is {total} bytes, over the {MAX_FIXTURE_BYTES} limit")
    print(f"{name}: {type(model).__name__}, {sum(p.numel() for p in model.parameters())} parameters, "
          f"{positions} positions, {total} bytes in {directory}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output directory (one sub-directory per model)")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--only", nargs="*", help="model names to build (default: all)")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)
    for i, (name, model_class, config) in enumerate(specs()):
        if args.only and name not in args.only:
            continue
        make(name, model_class, config, args.out, args.seed + i)
    return 0


if __name__ == "__main__":
    sys.exit(main())
