#!/usr/bin/env python3
"""Build a random-weight tiny Qwen2-MoE (or Qwen3-MoE) checkpoint that `vllm serve DIR` can load offline.

No network: the tokenizer is a tokenizers WordLevel model made here (32000 entries:
3 specials + synthetic words), so `vllm bench serve --dataset-name random` round-trips
token ids exactly (decode joins words with spaces; encode splits on whitespace).

Usage: python3 tiny_qwen2_moe.py OUT_DIR [--arch qwen2_moe|qwen3_moe] [--layers 4] [--hidden 1024]
       [--experts 8] [--topk 2] [--vocab 32000] [--dtype bfloat16] [--seed 0]
Writes config.json (architectures ['Qwen2MoeForCausalLM'] or ['Qwen3MoeForCausalLM']),
generation_config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
special_tokens_map.json.

qwen3_moe: vLLM's Qwen3MoeSparseMoeBlock builds the shared expert and its gate only when the config has
`shared_expert_intermediate_size > 0` (transformers' Qwen3-MoE has none), so the checkpoint is the Qwen2-MoE
one in Qwen3-MoE's layout: the same experts, shared expert and gate, q/k RMSNorms (ones) instead of the
q/k/v biases, and that size in the config.
"""

import argparse
import json
import os
import sys
import time


def build_tokenizer(out_dir, vocab_size):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    # Synthetic lowercase words, all distinct, none a prefix issue for WordLevel.
    letters = "abcdefghijklmnopqrstuvwxyz"
    i = 0
    while len(vocab) < vocab_size:
        n, w = i, ""
        while True:
            w = letters[n % 26] + w
            n = n // 26 - 1
            if n < 0:
                break
        vocab.setdefault(w, len(vocab))
        i += 1
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins with spaces
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=32768,
    )
    fast.chat_template = (
        "{% for m in messages %}<|im_start|> {{ m['role'] }} {{ m['content'] }} <|im_end|> "
        "{% endfor %}{% if add_generation_prompt %}<|im_start|> assistant {% endif %}"
    )
    fast.save_pretrained(out_dir)
    return fast


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--arch", choices=["qwen2_moe", "qwen3_moe"], default="qwen2_moe")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--topk", type=int, default=2)
    ap.add_argument("--moe-inter", type=int, default=512)
    ap.add_argument("--shared-inter", type=int, default=1024)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--max-pos", type=int, default=4096)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import torch
    from transformers import AutoModelForCausalLM, Qwen2MoeConfig

    t0 = time.time()
    os.makedirs(a.out_dir, exist_ok=True)
    tok = build_tokenizer(a.out_dir, a.vocab)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")

    # every field both architectures read: the Qwen3-MoE config is made from the same ones (as_qwen3_moe)
    common = dict(
        vocab_size=a.vocab,
        hidden_size=a.hidden,
        intermediate_size=a.moe_inter * 4,
        num_hidden_layers=a.layers,
        num_attention_heads=a.heads,
        num_key_value_heads=a.kv_heads,
        max_position_embeddings=a.max_pos,
        rope_theta=1000000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        use_sliding_window=False,
        decoder_sparse_step=1,
        moe_intermediate_size=a.moe_inter,
        shared_expert_intermediate_size=a.shared_inter,
        num_experts_per_tok=a.topk,
        num_experts=a.experts,
        norm_topk_prob=False,
        output_router_logits=False,
        mlp_only_layers=[],
        bos_token_id=eos,
        eos_token_id=eos,
        pad_token_id=eos,
    )
    cfg = Qwen2MoeConfig(**common)
    cfg.architectures = ["Qwen2MoeForCausalLM"]
    torch.manual_seed(a.seed)
    dtype = getattr(torch, a.dtype)
    model = AutoModelForCausalLM.from_config(cfg, dtype=dtype)
    model.config.architectures = ["Qwen2MoeForCausalLM"]
    model.generation_config.eos_token_id = eos
    model.generation_config.bos_token_id = eos
    model.generation_config.pad_token_id = eos
    model.save_pretrained(a.out_dir, safe_serialization=True)
    n = sum(p.numel() for p in model.parameters())
    if a.arch == "qwen3_moe":
        n = as_qwen3_moe(a.out_dir, common)
    print(
        json.dumps(
            {
                "out_dir": a.out_dir,
                "params": n,
                "seconds": round(time.time() - t0, 2),
                "files": sorted(os.listdir(a.out_dir)),
            }
        )
    )


def as_qwen3_moe(out_dir, common):
    """Rewrites the saved Qwen2-MoE checkpoint (config fields `common`) in Qwen3-MoE's layout; returns its
    parameter count."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import Qwen3MoeConfig

    head_dim = common["hidden_size"] // common["num_attention_heads"]
    files = sorted(f for f in os.listdir(out_dir) if f.endswith(".safetensors"))
    tensors = {}
    for f in files:
        tensors.update(load_file(os.path.join(out_dir, f)))
        os.remove(os.path.join(out_dir, f))
    index = os.path.join(out_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        os.remove(index)
    out = {k: v for k, v in tensors.items() if not k.endswith(("_proj.bias",))}
    dtype = next(iter(out.values())).dtype
    for i in range(common["num_hidden_layers"]):
        for norm in ("q_norm", "k_norm"):
            out[f"model.layers.{i}.self_attn.{norm}.weight"] = torch.ones(
                head_dim, dtype=dtype
            )
    save_file(
        out, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"}
    )
    # shared_expert_intermediate_size is no Qwen3-MoE field: the config keeps it, and vLLM's Qwen3MoeSparseMoeBlock
    # reads it (getattr, default 0) to build the shared expert and its gate
    q3 = Qwen3MoeConfig(**common, head_dim=head_dim, attention_bias=False)
    q3.architectures = ["Qwen3MoeForCausalLM"]
    q3.dtype = dtype
    q3.save_pretrained(out_dir)
    return sum(v.numel() for v in out.values())


if __name__ == "__main__":
    sys.exit(main())
