"""The files of a Hugging Face checkpoint folder, in each layout people download.

Weights, read as NumPy arrays under PyTorch's tensor names (no PyTorch needed):
- `model.safetensors`;
- sharded safetensors: `model.safetensors.index.json` and the shards it names;
- `tf_model.h5`, the layout Hugging Face writes for TensorFlow (read with h5py; its names
  and `Dense` orientation turned into PyTorch's).
`pytorch_model.bin` (a pickle only PyTorch reads) is refused in one line saying how to
get `model.safetensors`.

Tokenizers: `vocab.json` + `merges.txt` (byte-level BPE) or `vocab.txt` (WordPiece), else
the vocabulary (and merges) in `tokenizer.json`; BERT's normaliser settings from
`tokenizer.json`, then `tokenizer_config.json` (`do_lower_case`, `strip_accents`,
`tokenize_chinese_chars`), as Hugging Face's fast tokenizer applies them. Special tokens
written in a text are read as their ids, as Hugging Face's tokenizers read them
(`<|endoftext|>`; BERT's `[CLS]`, `[SEP]`, `[MASK]`, `[PAD]`, `[UNK]`).
"""

import json
import os

import numpy as np

from tf_transformer.errors import InputError
from tf_transformer.text import BertVocabTokenizer, BytePairTokenizer, byte_pair_tokenizer
from tf_transformer.text.bert_vocab_tokenizer import ROLE_TOKENS
from tf_transformer.text.byte_pair_tokenizer import END_OF_TEXT

SAFETENSORS, SHARDED, TF_H5 = "model.safetensors", "model.safetensors.index.json", "tf_model.h5"
TORCH = ("pytorch_model.bin", "pytorch_model.bin.index.json")


def has_checkpoint(directory: str) -> bool:
    """Whether `directory` holds a Hugging Face checkpoint (any weights layout)."""
    names = (*_READERS, *TORCH)
    return os.path.isfile(os.path.join(directory, "config.json")) and any(
        os.path.isfile(os.path.join(directory, name)) for name in names
    )


def read_config(directory: str) -> dict:
    return _read_json(os.path.join(directory, "config.json"), "the model's configuration")


def read_weights(directory: str) -> dict:
    """Every tensor of the checkpoint in `directory`, by its PyTorch name."""
    path = weights_path(directory)
    return _READERS[os.path.basename(path)](path)


def weights_path(directory: str) -> str:
    """The weights file of `directory` in a layout this module reads; any other layout a
    one-line `InputError` (checked before anything is read or written)."""
    for name in _READERS:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            return path
    for name in TORCH:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            raise InputError(
                f"{path}: PyTorch's pickle format, which needs PyTorch to read; download the "
                "model's model.safetensors instead, or convert once where transformers and "
                "torch are installed: AutoModelForCausalLM (GPT-2) or AutoModelForMaskedLM "
                "(BERT) .from_pretrained(DIR).save_pretrained(DIR) writes model.safetensors"
            )
    raise InputError(f"{directory}: no model weights (looked for {', '.join(_READERS)})")


def _read_json(path, what):
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file ({what})")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not JSON ({error})") from None


def _safetensors(path):
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError) as error:
        raise InputError(f"{path}: not a safetensors file ({error})") from None


def _sharded(path):
    """The shards `model.safetensors.index.json` names, each tensor from its shard."""
    weight_map = _read_json(path, "the shard index").get("weight_map")
    if not isinstance(weight_map, dict) or not weight_map:
        raise InputError(f"{path}: no weight_map (tensor name -> shard file)")
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        shard_path = os.path.join(os.path.dirname(path), shard)
        if not os.path.isfile(shard_path):
            raise InputError(f"{shard_path}: no such file (a shard {os.path.basename(path)} names)")
        tensors.update(_safetensors(shard_path))
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise InputError(f"{path}: tensor {missing[0]} is in no shard ({len(missing)} missing)")
    return tensors


def _tf_h5(path):
    """`tf_model.h5` (Keras's HDF5 weights: a group per top-level layer, its
    `weight_names`), each weight under the name PyTorch gives it."""
    import h5py

    tensors = {}
    try:
        with h5py.File(path, "r") as h5:
            for layer in _attribute(h5, "layer_names"):
                group = h5[layer]
                for weight in _attribute(group, "weight_names"):
                    name, value = torch_name(weight, np.asarray(group[weight]))
                    tensors[name] = value
    except OSError as error:
        raise InputError(f"{path}: not an HDF5 file ({error})") from None
    if not tensors:
        raise InputError(f"{path}: no weights (not a Keras HDF5 weights file)")
    return tensors


def _attribute(group, name):
    """A list of names Keras stored as `group.attrs[name]`, or, past HDF5's 64 KB limit
    for an attribute, in chunks `name0`, `name1`, ..."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in group.attrs:
            values.extend(group.attrs[f"{name}{chunk}"])
            chunk += 1
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def torch_name(tf_name: str, value: np.ndarray):
    """`(name, value)` as PyTorch has them, for a weight of a Hugging Face TensorFlow
    model: the model's own scope dropped, `a___b` read as `b` and `h_._0` as `h.0`;
    a `Dense` kernel (input x output) transposed to `Linear`'s weight (output x input),
    `embeddings`/`gamma` named `weight` and `beta` `bias`; a `(1, n)` bias (GPT-2's
    `TFConv1D`) flattened."""
    parts = tf_name.removesuffix(":0").split("/")
    parts = parts[1:] if len(parts) > 1 else parts
    names = []
    for part in parts:
        names.extend(part.split("___")[-1].split("_._"))
    last = names[-1]
    if last == "kernel" and value.ndim == 2:
        value = value.T
    names[-1] = {"kernel": "weight", "embeddings": "weight", "gamma": "weight"}.get(last, last)
    names[-1] = "bias" if last == "beta" else names[-1]
    if names[-1] == "bias" and value.ndim == 2 and value.shape[0] == 1:
        value = value[0]
    return ".".join(names), value


_READERS = {SAFETENSORS: _safetensors, SHARDED: _sharded, TF_H5: _tf_h5}


def _tokenizer_json(directory):
    path = os.path.join(directory, "tokenizer.json")
    return (path, _read_json(path, "the tokenizer")) if os.path.isfile(path) else (path, None)


def _vocab_by_id(ids: dict, path):
    try:
        return byte_pair_tokenizer.vocab_by_id(ids, path)
    except ValueError as error:
        raise InputError(str(error)) from None


def _model_of(path, tokenizer, kind):
    model = tokenizer.get("model") or {}
    if model.get("type") != kind:
        raise InputError(f"{path}: a {model.get('type')!r} tokenizer model, expected {kind!r}")
    if not isinstance(model.get("vocab"), dict):
        raise InputError(f"{path}: its model has no vocab (token -> id)")
    return model


def _added_tokens(directory, tokenizer, vocab):
    """The tokens `tokenizer.json` (`added_tokens`) and `added_tokens.json` add, each
    checked to be the vocabulary's own at its id (one the vocabulary lacks would need an
    id past its end, which the checkpoint's embeddings have no row for); returns the
    special ones, which Hugging Face reads as ids wherever a text has them."""
    entries = [
        (os.path.join(directory, "tokenizer.json"), token)
        for token in (tokenizer or {}).get("added_tokens") or []
    ]
    path = os.path.join(directory, "added_tokens.json")
    if os.path.isfile(path):
        added = _read_json(path, "the added tokens")
        entries += [(path, {"content": token, "id": index}) for token, index in added.items()]
    for where, token in entries:
        index, content = token.get("id"), token.get("content")
        if not (isinstance(index, int) and 0 <= index < len(vocab) and vocab[index] == content):
            raise InputError(
                f"{where}: added token {content!r} (id {index}) is not in the vocabulary at "
                "that id; tokens added after the vocabulary are not supported"
            )
    return tuple(token["content"] for _, token in entries if token.get("special"))


def read_byte_pair_tokenizer(directory: str) -> BytePairTokenizer:
    """GPT-2's tokenizer: `vocab.json` + `merges.txt`, else `tokenizer.json`."""
    path, tokenizer = _tokenizer_json(directory)
    vocab_json, merges_txt = (os.path.join(directory, n) for n in ("vocab.json", "merges.txt"))
    try:
        if os.path.isfile(vocab_json) and os.path.isfile(merges_txt):
            vocab, merges = byte_pair_tokenizer.read_files(vocab_json, merges_txt)
        elif tokenizer is not None:
            model = _model_of(path, tokenizer, "BPE")
            vocab = _vocab_by_id(model["vocab"], path)
            merges = [m.split(" ") if isinstance(m, str) else m for m in model.get("merges", [])]
            if any(len(pair) != 2 for pair in merges):
                raise InputError(f"{path}: a merge is a pair of tokens")
        else:
            raise InputError(
                f"{directory}: no GPT-2 tokenizer (vocab.json and merges.txt, or tokenizer.json)"
            )
        special = dict.fromkeys([END_OF_TEXT, *_added_tokens(directory, tokenizer, vocab)])
        return BytePairTokenizer(vocab, merges, special_text=tuple(special))
    except InputError:
        raise
    except ValueError as error:
        raise InputError(f"{directory}: {error}") from None


# ours: (`tokenizer.json`'s BertNormalizer, `tokenizer_config.json`)
_BERT_SETTINGS = {
    "lowercase": ("lowercase", "do_lower_case"),
    "strip_accents": ("strip_accents", "strip_accents"),
    "split_cjk": ("handle_chinese_chars", "tokenize_chinese_chars"),
}


def _bert_settings(directory, tokenizer):
    """`BertVocabTokenizer`'s lowercase, strip_accents and split_cjk: BERT's defaults, then
    `tokenizer.json`'s `BertNormalizer`, then `tokenizer_config.json`."""
    settings = {"lowercase": True, "strip_accents": None, "split_cjk": True}
    normalizer = (tokenizer or {}).get("normalizer") or {}
    config_path = os.path.join(directory, "tokenizer_config.json")
    sources = [
        normalizer if normalizer.get("type") == "BertNormalizer" else {},
        _read_json(config_path, "the tokenizer's settings") if os.path.isfile(config_path) else {},
    ]
    for column, source in enumerate(sources):
        for ours, names in _BERT_SETTINGS.items():
            if names[column] in source:
                settings[ours] = source[names[column]]
    return settings


def read_wordpiece_tokenizer(directory: str) -> BertVocabTokenizer:
    """BERT's tokenizer: `vocab.txt`, else `tokenizer.json`; the normaliser's settings
    from `tokenizer.json`'s `BertNormalizer`, overridden by `tokenizer_config.json`."""
    path, tokenizer = _tokenizer_json(directory)
    vocab_txt = os.path.join(directory, "vocab.txt")
    if os.path.isfile(vocab_txt):
        with open(vocab_txt, encoding="utf-8") as handle:
            vocab = handle.read().splitlines()
    elif tokenizer is not None:
        vocab = _vocab_by_id(_model_of(path, tokenizer, "WordPiece")["vocab"], path)
    else:
        raise InputError(f"{directory}: no BERT tokenizer (vocab.txt or tokenizer.json)")
    special = [token for token in ROLE_TOKENS.values() if token in vocab]
    special = dict.fromkeys([*special, *_added_tokens(directory, tokenizer, vocab)])
    try:
        settings = _bert_settings(directory, tokenizer)
        return BertVocabTokenizer(vocab, **settings, special_text=tuple(special))
    except InputError:
        raise
    except ValueError as error:
        raise InputError(f"{directory}: {error}") from None
