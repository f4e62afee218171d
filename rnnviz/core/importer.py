"""Your own model in rnnviz: a plain PyTorch nn.RNN / nn.LSTM / nn.GRU (batch_first or not) with an
nn.Linear head (and an nn.Embedding, or one-hot input) as an rnnviz checkpoint.

The state dict comes from a safetensors file or from a torch file read with weights_only=True
(never unpickling code). Its module prefixes are found among the usual names (`lstm.`, `rnn.`,
`gru.`, `encoder.` ... for the recurrent layers; `fc.`, `decoder.`, `head.`, `linear.`, `out.` ...
for the head; `embedding.`, `embed.`, `encoder.` ... for the embedding) or given (`mapping`:
old prefix -> rnnviz's). The vocabulary is the model's token list in index order; rnnviz keeps
<unk> at index 0, so a list without it gets it put first: a zero column of a one-hot input (or a
zero row of the embedding) and a head row that is never predicted. Every mismatch is one line
naming what differs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from rnnviz.core.config import ModelConfig
from rnnviz.core.corpus import UNK, Vocab, tokenize
from rnnviz.core.errors import ConfigError

RNN_PREFIXES = ("rnn.", "lstm.", "gru.", "encoder.", "recurrent.", "cell.", "layers.", "")
HEAD_PREFIXES = ("head.", "fc.", "decoder.", "linear.", "out.", "output.", "proj.", "classifier.", "h2o.")
EMBED_PREFIXES = ("embedding.", "embed.", "emb.", "encoder.", "embeddings.", "word_embeddings.")
NEVER = -1.0e4  # the head bias of an added <unk>: exp(-1e4) is 0 in float64: never predicted
MAX_BYTES = 2 * 1024**3


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a safetensors or torch file as float64 arrays (torch: weights_only)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such state-dict file: {p}")
    if p.stat().st_size > MAX_BYTES:
        raise ConfigError(f"{p} is larger than {MAX_BYTES // 1024**3} GB: not a small recurrent model")
    with p.open("rb") as f:
        head = f.read(8)
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        return _torch_file(p)
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        tensors = load(p.read_bytes())
    except (SafetensorError, ValueError, TypeError) as exc:
        raise ConfigError(f"{p} is neither a safetensors nor a torch state-dict file ({exc})") from None
    return {k: np.asarray(v, dtype=np.float64) for k, v in tensors.items()}


def _torch_file(p: Path) -> dict[str, np.ndarray]:
    import pickle
    import warnings

    import torch

    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols it was not written with
            warnings.simplefilter("ignore")
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, ValueError, EOFError) as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        why = f" (it names {found.group(1)})" if found else ""
        raise ConfigError(
            f"{p} was refused: it holds more than tensors, and reading that could run code{why}"
        ) from None
    for key in ("state_dict", "model_state_dict", "model"):  # a checkpoint dict holding the state dict
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConfigError(f"{p} holds no state dict (a mapping of names to tensors)")
    return {str(k): v.detach().double().cpu().numpy() for k, v in obj.items()}


def read_vocab(spec: str, level: str | None = None, from_corpus: bool = False) -> tuple[list[str], str]:
    """The model's tokens in index order and their level: from a JSON list, a text file of one token
    a line, or (from_corpus) a text whose sorted distinct characters (or words) they are."""
    from rnnviz.core.corpus import load_corpus

    if from_corpus:
        lv = level or "char"
        text = load_corpus(spec, lv).text
        return sorted(set(tokenize(text, lv)) - {UNK}), lv
    p = Path(spec)
    if not p.is_file():
        raise ConfigError(f"no such vocabulary file: {p}")
    raw = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".json":
        try:
            tokens = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{p} is not valid JSON: {exc}") from None
        if isinstance(tokens, dict):  # an object with a "vocab" list: e.g. `rnnviz trace --json`'s
            tokens = tokens.get("vocab")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ConfigError(
                f"{p} must hold a JSON list of token strings (or an object with a 'vocab' list)"
            )
    else:
        tokens = raw.split("\n")
        if tokens and tokens[-1] == "":
            tokens = tokens[:-1]
    if not tokens:
        raise ConfigError(f"{p} holds no tokens")
    if len(set(tokens)) != len(tokens):
        twice = next(t for t in tokens if tokens.count(t) > 1)
        raise ConfigError(f"the vocabulary lists {twice!r} twice")
    lv = level or ("char" if all(len(t) == 1 for t in tokens if t != UNK) else "word")
    return tokens, lv


def convert(
    state: dict[str, np.ndarray], tokens: list[str], level: str, mapping: dict[str, str] | None = None,
    nonlinearity: str = "tanh",
) -> tuple[ModelConfig, Vocab, dict[str, np.ndarray]]:  # fmt: skip
    """rnnviz's settings, vocabulary and weights for a torch recurrent model's state dict."""
    state = _renamed(state, mapping or {})
    rnn = _prefix(state, RNN_PREFIXES, "weight_ih_l0", "recurrent layer (weight_ih_l0, weight_hh_l0)")
    if any(k.startswith(rnn) and k.endswith("_reverse") for k in state):
        raise ConfigError("the recurrent layers are bidirectional: rnnviz reads one direction")
    layers = sum(1 for n in range(8) if f"{rnn}weight_ih_l{n}" in state)
    w_hh = _need(state, f"{rnn}weight_hh_l0")
    H = w_hh.shape[1]
    arch = {1: "rnn", 4: "lstm", 3: "gru"}.get(w_hh.shape[0] // H if w_hh.shape[0] % H == 0 else 0)
    if arch is None:
        raise ConfigError(f"{rnn}weight_hh_l0 is {w_hh.shape}: not an RNN, LSTM or GRU's (rows H, 4H or 3H)")
    head = _prefix(state, HEAD_PREFIXES, "weight", "head (a Linear of shape (vocabulary, hidden))", avoid=rnn)
    head_w = _need(state, f"{head}weight")
    V = head_w.shape[0]
    unk = 0 if tokens[:1] == [UNK] else None
    if unk is None and UNK in tokens:
        raise ConfigError(f"the vocabulary has {UNK} at index {tokens.index(UNK)}: rnnviz keeps it at 0")
    if V != len(tokens):
        raise ConfigError(f"the head has {V} outputs but the vocabulary has {len(tokens)} tokens")
    if head_w.shape[1] != H:
        raise ConfigError(f"the head reads {head_w.shape[1]} units but the recurrent layer has {H}")
    w_ih = _need(state, f"{rnn}weight_ih_l0")
    emb_key = None
    if w_ih.shape[1] != V:
        emb = _prefix(
            state, EMBED_PREFIXES, "weight", "embedding (its input is not one-hot)", avoid=(rnn, head)
        )
        emb_key = f"{emb}weight"
        if state[emb_key].shape != (V, w_ih.shape[1]):
            raise ConfigError(
                f"{emb_key} is {state[emb_key].shape}; the recurrent layer reads {w_ih.shape[1]} inputs "
                f"from {V} tokens"
            )
    cfg = ModelConfig(
        V if unk == 0 else V + 1, arch, nonlinearity, layers, H, "embedding" if emb_key else "onehot",
        embed_dim=w_ih.shape[1] if emb_key else 32,
    )  # fmt: skip
    vocab = Vocab(tuple(tokens) if unk == 0 else (UNK, *tokens), level)
    weights = _weights(state, rnn, head, emb_key, cfg, add_unk=unk is None)
    return cfg, vocab, weights


def _weights(state, rnn: str, head: str, emb_key: str | None, cfg: ModelConfig, add_unk: bool) -> dict:
    G, H = {"rnn": 1, "lstm": 4, "gru": 3}[cfg.arch], cfg.hidden
    out = {}
    for n in range(cfg.layers):
        size = (cfg.embed_dim if emb_key else cfg.vocab_size - add_unk) if n == 0 else H
        for kind, shape in (("weight_ih", (G * H, size)), ("weight_hh", (G * H, H))):
            out[f"rnn.{kind}_l{n}"] = _shaped(state, f"{rnn}{kind}_l{n}", shape)
        for kind in ("bias_ih", "bias_hh"):
            key = f"{rnn}{kind}_l{n}"
            out[f"rnn.{kind}_l{n}"] = _shaped(state, key, (G * H,)) if key in state else np.zeros(G * H)
    out["head.weight"] = state[f"{head}weight"]
    V = cfg.vocab_size - add_unk
    out["head.bias"] = _shaped(state, f"{head}bias", (V,)) if f"{head}bias" in state else np.zeros(V)
    if emb_key:
        out["embedding.weight"] = state[emb_key]
    if add_unk:  # <unk> first: no input of its own, never predicted
        if emb_key:
            out["embedding.weight"] = np.vstack([np.zeros((1, cfg.embed_dim)), out["embedding.weight"]])
        else:
            out["rnn.weight_ih_l0"] = np.hstack([np.zeros((G * H, 1)), out["rnn.weight_ih_l0"]])
        out["head.weight"] = np.vstack([np.zeros((1, H)), out["head.weight"]])
        out["head.bias"] = np.concatenate([[NEVER], out["head.bias"]])
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def _renamed(state: dict, mapping: dict[str, str]) -> dict:
    out = {}
    for k, v in state.items():
        for old, new in mapping.items():
            if k.startswith(old):
                k = new + k[len(old) :]
                break
        out[k] = v
    return out


def _prefix(state: dict, prefixes, suffix: str, what: str, avoid=()) -> str:
    avoid = (avoid,) if isinstance(avoid, str) else tuple(avoid)
    for p in prefixes:
        if p in avoid or f"{p}{suffix}" not in state:
            continue
        if suffix == "weight" and f"{p}weight_ih_l0" in state:
            continue
        return p
    found = re.findall(r"^([\w.]*?)" + re.escape(suffix) + "$", "\n".join(state), re.M)
    hint = f" (keys like {', '.join(sorted(set(found))[:3])}{suffix}: give --map OLD=NEW)" if found else ""
    raise ConfigError(f"no {what} found in the state dict{hint}; its keys: {', '.join(list(state)[:8])}")


def _need(state: dict, key: str) -> np.ndarray:
    if key not in state:
        raise ConfigError(f"the state dict has no {key}")
    return state[key]


def _shaped(state: dict, key: str, shape: tuple) -> np.ndarray:
    v = _need(state, key)
    if v.shape != shape:
        raise ConfigError(f"{key} is {tuple(v.shape)}, expected {shape}")
    return v
