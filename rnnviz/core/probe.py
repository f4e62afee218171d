"""TextProbe: the typed text against the latest weights -> a Trace and a continuation.

Keeps the weights converted once per snapshot (and a FastTracer, whose forward pass carries over
from keystroke to keystroke), and traces at most the last `max_tokens` tokens of very long texts
(the views say so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.core.config import ModelConfig
from rnnviz.core.corpus import Vocab, detokenize, tokenize
from rnnviz.core.fasttrace import FastTracer
from rnnviz.core.generate import sample
from rnnviz.core.trace import Trace, TraceWeights, trace

MAX_TOKENS = 200


CHARS_PER_WORD = 32  # a generous bound: the tail this many chars x max_tokens long holds the window


@dataclass(frozen=True)
class Probe:
    trace: Trace | None  # None for empty text
    total_chars: int  # characters in the whole text
    clipped: bool  # True when only the last max_tokens tokens were traced
    unknown: tuple[str, ...]  # distinct tokens not in the vocabulary
    window: int | str | None = None  # the reading window applied (see TextProbe.window)


class TextProbe:
    def __init__(self, max_tokens: int = MAX_TOKENS):
        self.max_tokens = max_tokens
        self.weights: TraceWeights | None = None
        self.tracer: FastTracer | None = None
        self.vocab: Vocab | None = None
        # How the model reads text, as it was trained: None (everything typed), N (the last N
        # tokens: a model trained on N-token windows) or "word" (the last word: a last-letter model).
        self.window: int | str | None = None
        self.interventions: tuple = ()  # core.intervene.Intervention: the network changed while it reads

    def clear(self) -> None:
        """No model: nothing is traced until set_weights."""
        self.weights = self.vocab = self.tracer = None

    def set_weights(self, cfg: ModelConfig, vocab: Vocab, weights: dict[str, np.ndarray]) -> None:
        self.weights = TraceWeights.from_state(cfg, weights)
        self.tracer = FastTracer(self.weights)  # keeps its forward pass from keystroke to keystroke
        self.vocab = vocab

    def follow(self, other: TextProbe) -> None:
        """Read with `other`'s model, window and interventions (a second text beside the typed one);
        a tracer of its own keeps this text's forward pass."""
        if self.weights is not other.weights:
            self.weights, self.vocab = other.weights, other.vocab
            self.tracer = FastTracer(other.weights) if other.weights is not None else None
        self.window, self.interventions = other.window, other.interventions

    def run(self, text: str, target: str | None = None, gradients: bool = True) -> Probe:
        """Trace the (last max_tokens of the) text; target: a token, or None for the top prediction.
        gradients=False: the forward pass only (Trace.gradients False) where the fast tracer reads
        the text; with interventions the trace is whole anyway.

        Only a tail of the text is tokenised, so pasting megabytes costs no more than a page.
        """
        if self.weights is None or self.vocab is None:
            return Probe(None, len(text), False, ())
        level = self.vocab.level
        tail = text[-self.max_tokens * (1 if level == "char" else CHARS_PER_WORD) - 8 :]
        tokens = tokenize(tail, level)
        clipped = len(tail) < len(text) or len(tokens) > self.max_tokens
        if clipped and level == "word" and len(tail) < len(text):
            tokens = tokens[1:]  # the first word of the tail may be cut
        shown = tokens[-self.max_tokens :]
        if self.window == "word":
            shown = tokenize(text.rsplit(None, 1)[-1], level) if text.strip() else []
            clipped = len(shown) < len(tokens)
        elif isinstance(self.window, int) and len(shown) > self.window:
            shown, clipped = shown[-self.window :], True
        unknown = tuple(self.vocab.unknown(shown))
        if not shown:
            return Probe(None, len(text), clipped, unknown)
        target_id = self.vocab.stoi.get(target) if target is not None else None
        if self.interventions:  # the explicit replay knows interventions (the fast tracer does not)
            tr = trace(self.weights, self.vocab.ids(shown), shown, self.vocab.tokens, level, None, target_id,
                       self.interventions)  # fmt: skip
            return Probe(tr, len(text), clipped, unknown, self.window)
        assert self.tracer is not None  # made with the weights
        tr = self.tracer.trace(
            self.vocab.ids(shown),
            tokens=shown,
            vocab=self.vocab.tokens,
            level=level,
            target_id=target_id,
            gradients=gradients,
        )
        return Probe(tr, len(text), clipped, unknown, self.window)

    def continuation(self, probe: Probe, length: int, temperature: float, seed: int = 0) -> str:
        """`length` tokens that follow the traced text, as text to append (with its leading space)."""
        if probe.trace is None or self.weights is None or self.vocab is None or length == 0:
            return ""
        tr = probe.trace  # already read: continue from its final state
        window = self.window if isinstance(self.window, int) else None
        if self.window == "word":  # a last-letter model completes one word with one letter
            length = min(length, 1)
        tracer = self.tracer
        if (
            window is None
            and not self.interventions
            and tracer is not None
            and np.array_equal(tracer.ids, tr.ids)
        ):
            ids = tracer.sample(length, temperature, seed)  # from the kept forward pass
        else:  # the explicit replay: windows, and the network as the interventions change it
            state, iv = tr.final_state(), self.interventions
            ids = sample(self.weights, tr.ids, length, temperature, seed, state=state, window=window,
                         interventions=iv)  # fmt: skip
        last = [probe.trace.tokens[-1]]
        joined = detokenize(last + [self.vocab.tokens[i] for i in ids], self.vocab.level)
        return joined[len(detokenize(last, self.vocab.level)) :]
