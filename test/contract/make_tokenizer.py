"""Writes a small tokenizer the bench client can load without network: 512 words `w0`..`w509` split on
whitespace (as the fake server counts prompt tokens), an end-of-text token, and the Qwen3 MoE config type."""

import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

out = sys.argv[1]
vocab = {"<unk>": 0, "<|endoftext|>": 1, **{f"w{i}": i + 2 for i in range(510)}}
tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
tok.decoder = decoders.WordPiece()  # joins the words with spaces
fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<|endoftext|>")
fast.save_pretrained(out)
config = {"model_type": "qwen3_moe", "architectures": ["Qwen3MoeForCausalLM"], "vocab_size": len(vocab)}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f)
