"""E5S1 weights as a sentence-transformers folder: BERT tensor names, model configs and the tokenizer."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from rag.model.e5s1 import E5Bin, E5Header
from rag.model.provenance import dist_version, write_json

PROMPTS = {"query": "query: ", "passage": "passage: "}
MAX_SEQ_LENGTH = 512

# Our tensor names -> HF BertModel names (nn.Linear weights are [out, in], as in e5.c).
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


def bert_state_dict(e5: E5Bin) -> dict[str, np.ndarray]:
    """HF BertModel state dict (float32) equivalent to e5.c's forward pass."""
    h = e5.header
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": e5.tensor("emb.word", (h.vocab, h.hidden)),
        # e5.c numbers positions 0..L-1 per text, as BertModel does (no RoBERTa offset of 2).
        "embeddings.position_embeddings.weight": e5.tensor("emb.pos", (h.max_positions, h.hidden)),
        "embeddings.token_type_embeddings.weight": e5.tensor("emb.type", (h.type_vocab, h.hidden)),
        "embeddings.LayerNorm.weight": e5.tensor("emb.ln.w", (h.hidden,)),
        "embeddings.LayerNorm.bias": e5.tensor("emb.ln.b", (h.hidden,)),
    }
    shapes = {
        "q": (h.hidden, h.hidden),
        "k": (h.hidden, h.hidden),
        "v": (h.hidden, h.hidden),
        "ao": (h.hidden, h.hidden),
        "fi": (h.ffn, h.hidden),
        "fo": (h.hidden, h.ffn),
    }
    for layer in range(h.layers):
        pre = f"encoder.layer.{layer}."
        for short, hf in _LAYER_TENSORS.items():
            sd[pre + hf + ".weight"] = e5.tensor(f"l{layer}.{short}.w", shapes[short])
            sd[pre + hf + ".bias"] = e5.tensor(f"l{layer}.{short}.b", shapes[short][:1])
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[pre + hf + ".weight"] = e5.tensor(f"l{layer}.{short}.w", (h.hidden,))
            sd[pre + hf + ".bias"] = e5.tensor(f"l{layer}.{short}.b", (h.hidden,))
    # The image has no pooler (mean pooling never uses it). Zeros rather than absence: absent
    # weights would be randomly initialised with a warning on every load, and pooler_output
    # of zeros is an obvious "not trained" signal to anyone who reaches for it.
    sd["pooler.dense.weight"] = np.zeros((h.hidden, h.hidden), np.float32)
    sd["pooler.dense.bias"] = np.zeros((h.hidden,), np.float32)
    return sd


def bert_config(h: E5Header) -> dict[str, Any]:
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",  # exact erf GELU, as e5.c
        "hidden_dropout_prob": 0.1,
        "hidden_size": h.hidden,
        "initializer_range": 0.02,
        "intermediate_size": h.ffn,
        "layer_norm_eps": h.eps,
        "max_position_embeddings": h.max_positions,
        "num_attention_heads": h.heads,
        "num_hidden_layers": h.layers,
        "position_embedding_type": "absolute",
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab,
        "bos_token_id": h.bos,
        "eos_token_id": h.eos,
        "pad_token_id": h.pad,
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
    }


def write_model_files(dst: Path, e5: E5Bin, tokenizer_path: Path) -> None:
    from safetensors.numpy import save_file  # light, but only needed here

    h = e5.header
    write_json(dst / "config.json", bert_config(h))
    save_file(bert_state_dict(e5), str(dst / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(tokenizer_path, dst / "tokenizer.json")  # byte-identical to upstream
    special = {
        "bos_token": "<s>",
        "cls_token": "<s>",
        "eos_token": "</s>",
        "mask_token": "<mask>",
        "pad_token": "<pad>",
        "sep_token": "</s>",
        "unk_token": "<unk>",
    }
    write_json(dst / "special_tokens_map.json", special)
    write_json(
        dst / "tokenizer_config.json",
        {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": MAX_SEQ_LENGTH, **special},
    )
    # Classic sentence-transformers layout (as the upstream repo): loads in ST 2.x to 6.x.
    write_json(
        dst / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    write_json(
        dst / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,  # e5 averages over the "query: " tokens too (so does e5.c)
        },
    )
    write_json(dst / "sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    versions = {
        "sentence_transformers": dist_version("sentence-transformers"),
        "transformers": dist_version("transformers"),
        "pytorch": dist_version("torch"),
    }
    write_json(
        dst / "config_sentence_transformers.json",
        {
            "__version__": {k: v for k, v in versions.items() if v},
            "prompts": PROMPTS,
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
