"""rnnviz from Python: load or train a model, trace a text, continue it, patch two texts, open a
session. Loading, tracing, sampling and patching are numpy (torch is imported by `train` alone).

    import rnnviz
    m = rnnviz.load("story.safetensors")      # or rnnviz.train(corpus="builtin:story", steps=500)
    tr = m.trace("The keeper counted", target="s")
    tr.h.shape                                # (layers, T, H); tr.c, tr.gates["f"], tr.probs, ...
    m.generate("The keeper", length=200, temperature=0.8, seed=1)
    m.patch(clean="The keeper counted", corrupt="The sailor counted")
    m.listen("The keeper counted").alpha      # (T, T): who listens to whom (core.listen)

The command line (`rnnviz trace`, `generate`, `patch`) is built on these same functions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnviz.core.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.corpus import Vocab, detokenize, tokenize
from rnnviz.core.errors import ConfigError, RnnvizError
from rnnviz.core.listen import Listening, listen
from rnnviz.core.patch import Patching, patch
from rnnviz.core.trace import Trace, TraceWeights, trace

UNKNOWN = ("error", "unk")  # tokens outside the vocabulary: refused, or read as <unk>


@dataclass(frozen=True, eq=False)
class Model:
    """A model's settings, vocabulary and weights (float32 numpy arrays, the checkpoint's)."""

    cfg: ModelConfig
    vocab: Vocab
    weights: dict[str, np.ndarray] = field(repr=False)
    steps: int = 0  # training updates applied
    train_config: dict = field(default_factory=dict, repr=False)
    meta: dict = field(default_factory=dict, repr=False)

    @classmethod
    def of_checkpoint(cls, ck: Checkpoint, name: str = "the model") -> Model:
        if ck.vocab is None:
            raise ConfigError(f"{name} forecasts numbers (a value model): open it in the app")
        return cls(ck.model_cfg, ck.vocab, ck.weights, ck.steps, dict(ck.train), dict(ck.meta))

    @property
    def trace_weights(self) -> TraceWeights:
        return TraceWeights.from_state(self.cfg, self.weights)

    def tokens(self, text: str, unknown: str = "error", what: str = "the text") -> list[str]:
        """`text` as this model's tokens; outside the vocabulary: refused (RnnvizError) or <unk>."""
        if unknown not in UNKNOWN:
            raise ConfigError(f"unknown must be one of {', '.join(UNKNOWN)}, not {unknown!r}")
        tokens = tokenize(text, self.vocab.level)
        if not tokens:
            raise ConfigError(f"{what} is empty")
        if unknown == "error":
            try:
                self.vocab.require_known(tokens)
            except RnnvizError as exc:
                raise type(exc)(f"{exc} (unknown='unk' reads them as <unk>)") from None
        return tokens

    def token_id(self, token: str | None, what: str = "target") -> int | None:
        if token is None:
            return None
        if token not in self.vocab.stoi:
            raise ConfigError(f"{what} not in the vocabulary: {token!r}")
        return self.vocab.stoi[token]

    def trace(
        self, text: str, target: str | None = None, target_step: int | None = None, unknown: str = "error"
    ) -> Trace:
        """Every internal on `text` (core.trace.Trace): h (layers, T, H), c, gates, probs, grad_h,
        grad_c, attribution; the gradients of -log p(target) at target_step (default: the last
        step's most likely token)."""
        tokens = self.tokens(text, unknown)
        tid = self.token_id(target, "target")
        v = self.vocab
        return trace(self.trace_weights, v.ids(tokens), tokens, v.tokens, v.level, target_step, tid)

    def generate(
        self, prompt: str, length: int = 200, temperature: float = 1.0, seed: int | None = None,
        unknown: str = "error",
    ) -> str:  # fmt: skip
        """The prompt and `length` tokens drawn after it (temperature 0: always the most likely)."""
        from rnnviz.core.generate import sample

        tokens = self.tokens(prompt, unknown, "the prompt")
        ids = sample(self.trace_weights, self.vocab.ids(tokens), length, temperature, seed)
        return detokenize(tokens + [self.vocab.tokens[i] for i in ids], self.vocab.level)

    def patch(
        self, clean: str, corrupt: str, target: str | None = None, state: str = "both", unknown: str = "error"
    ) -> Patching:
        """The patching matrix (core.patch): effect[l][t] of putting the clean text's state of
        layer l into the corrupted text's run at its step t, on log p(target)."""
        a = self.tokens(clean, unknown, "the clean text")
        b = self.tokens(corrupt, unknown, "the corrupted text")
        v = self.vocab
        tid = self.token_id(target, "target")
        return patch(self.trace_weights, v.ids(a), v.ids(b), tid, state, v.tokens, a, b)

    def listen(
        self, text: str, layer: int = 0, measure: str = "norm", channel: int | None = None,
        unknown: str = "error",
    ) -> Listening:  # fmt: skip
        """Who listens to whom (core.listen.Listening): alpha[t, s] of layer `layer` (from 0), how much
        the token read at step s makes of h_t; exact parts for minGRU, minLSTM and S6 (measure "norm"
        or "along"; channel: an S6 channel's hidden attention), the Jacobian norm ||dh_t/dx_s|| for
        RNN, LSTM and GRU."""
        tokens = self.tokens(text, unknown)
        return listen(self.trace_weights, self.vocab.ids(tokens), layer, measure, channel, tokens=tokens)

    def save(self, path: str | Path) -> None:
        """An rnnviz checkpoint (safetensors; atomic)."""
        extra = {k: self.meta[k] for k in ("corpus", "corpus_sha256", "preset") if k in self.meta}
        save_checkpoint(Path(path), self.cfg, self.vocab, self.weights, self.train_config, self.steps, extra)


def import_model(
    state_dict: str | Path, vocab: str | Path, level: str | None = None, from_corpus: bool = False,
    mapping: dict[str, str] | None = None, nonlinearity: str = "tanh",
) -> Model:  # fmt: skip
    """A plain PyTorch RNN / LSTM / GRU + Linear (+ Embedding) state dict (safetensors, or a torch
    file read with weights_only) with its vocabulary (a JSON list, a file of one token a line, or
    with from_corpus a text to build it from) as an rnnviz model (core.importer)."""
    from rnnviz.core.importer import convert, read_state_dict, read_vocab

    tokens, lv = read_vocab(str(vocab), level, from_corpus)
    cfg, v, weights = convert(read_state_dict(state_dict), tokens, lv, mapping, nonlinearity)
    return Model(cfg, v, weights, 0, {}, {"imported_from": str(state_dict)})


def show(model: Model | str | Path | None = None, text: str | None = None) -> subprocess.Popen:
    """Open the desktop app on `model` (a Model, or a saved model's path; None: the default one)
    with `text` typed, in a process of its own (a script or a notebook goes on)."""
    if isinstance(model, Model):
        handle, name = tempfile.mkstemp(prefix="rnnviz-", suffix=".safetensors")
        os.close(handle)
        model.save(name)
        model = name
    args = [sys.executable, "-m", "rnnviz"] + ([] if model is None else [str(model)])
    if text is not None:
        args += ["--text", text]
    return subprocess.Popen(args)


def load(path: str | Path) -> Model:
    """A saved model (an rnnviz .safetensors checkpoint; nothing in it can run code)."""
    return Model.of_checkpoint(load_checkpoint(path), str(path))


@dataclass(frozen=True, eq=False)
class Session:
    """A saved session (.rnnviz): its model, training settings, history and the typed text."""

    model: Model
    settings: dict  # the training settings, as saved
    history: dict[str, np.ndarray] = field(repr=False)  # curves and gradient norms, by name
    text: str = ""  # the text typed in the app
    corpus: str = ""  # the built-in's name, or the corpus file's path
    doc: dict = field(default_factory=dict, repr=False)  # session.json, whole


def open_session(path: str | Path) -> Session:
    """A saved session's model, settings and training history (numpy arrays)."""
    from rnnviz.core.session_file import load_session

    s = load_session(path)
    corpus = s.doc.get("corpus", {})
    name = corpus.get("spec", "") if isinstance(corpus, dict) else ""
    train = s.doc.get("train", {})
    return Session(
        Model.of_checkpoint(s.checkpoint, str(path)), dict(train) if isinstance(train, dict) else {},
        dict(s.history), s.typed_text, name if isinstance(name, str) else "", dict(s.doc),
    )  # fmt: skip


def train(
    corpus: str = "builtin:story", arch: str = "lstm", steps: int = 500, level: str = "char", layers: int = 1,
    hidden: int = 128, device: str = "cpu", **settings,
) -> Model:  # fmt: skip
    """A fresh model trained for `steps` updates (imports torch). `settings`: TrainConfig's
    (seq_len, batch, optimizer, lr, clip, seed, ...) and ModelConfig's (nonlinearity, input,
    embed_dim, ...). Stops early (ConfigError) if training diverges."""
    from rnnviz.core.corpus import load_corpus
    from rnnviz.core.loop import run_steps
    from rnnviz.core.session import corpus_meta
    from rnnviz.core.train import Trainer

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ConfigError(f"steps must be a whole number >= 0, not {steps!r}")
    model_keys = set(ModelConfig.__dataclass_fields__) - {"vocab_size", "arch", "layers", "hidden"}
    train_keys = set(TrainConfig.__dataclass_fields__)
    unknown = set(settings) - model_keys - train_keys
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    text = load_corpus(corpus, level)
    model_kw = {k: v for k, v in settings.items() if k in model_keys}
    if level == "word":
        model_kw.setdefault("input", "embedding")
    cfg = ModelConfig(len(text.vocab), arch, layers=layers, hidden=hidden, **model_kw)
    trainer = Trainer(
        text, cfg, TrainConfig(**{k: v for k, v in settings.items() if k in train_keys}), device
    )
    if run_steps(trainer, steps).diverged:
        raise ConfigError(
            f"training diverged at update {trainer.updates}: try a lower learning rate (lr=...)"
        )
    snap = trainer.snapshot()
    meta = corpus_meta(text)
    return Model(cfg, text.vocab, snap.weights, trainer.updates, trainer.cfg.to_dict(), meta)
