"""The neuron finder's numbers: how every unit behaves over a stretch of a corpus (numpy, no Qt).

- corpus_states(w, ids): every layer's h (and c, for an LSTM; for the selective SSM the norm
  ||s_t[u, :]|| of each channel's state row, its N numbers) after each token, the text read in
  order from a zero state (as `rnnviz trace` reads a text);
- a feature: a regular expression (1 where a match covers the position, else 0) or a built-in
  one (FEATURES), one value per token;
- rank_units: every unit (layer, unit, h, c or s) by the Pearson correlation, over every position,
  between its activation and the feature; contexts: the places where a unit's activation lies
  furthest from its mean in one direction (that of the correlation: its "top" end) or the other,
  as the text around them. The first WARMUP tokens are left out of the contexts: the state
  starts at zero there and has not warmed up (a cell state negative almost everywhere would
  otherwise have its "top" at the corpus's first character).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rnnviz.core.corpus import LoadCancelled, token_spans
from rnnviz.core.errors import ConfigError
from rnnviz.core.trace import TraceWeights, final_state, forward

FEATURES = {
    "quotes": "inside quotes: 1 from an opening quote to its closing one, else 0",
    "depth": "inside brackets: how many (, [ or { are open (the brackets themselves included)",
    "word_position": "position in the word: 1 at its first letter, 2 at the second, ...; 0 between words",
    "after_space": "after a space: 1 where the character before is a space",
    "line_position": "line length so far: characters since the start of the line",
    "string": "inside a Python string literal (', \", triple-quoted; its quotes included), outside comments",
    "indent": "indentation depth: the line's leading spaces / 4 (a tab counts 8), at every character of it",
}
WARMUP = 20  # contexts skip this many tokens after the start of the text (the state warms up)
MAX_POSITIONS = 200_000  # the finder reads at most this many tokens of a corpus
CHUNK = 4096  # tokens read at a time (the state carries over)


@dataclass(frozen=True)
class States:
    """h (and c, or the SSM's state norms s) of every layer after each of the first N tokens of a
    text: (L, N, H)."""

    h: np.ndarray
    c: np.ndarray | None
    text: str  # the text these tokens were read from
    spans: np.ndarray  # (N, 2) where each token lies in the text
    level: str
    s: np.ndarray | None = None  # the selective SSM: ||s_t[u, :]||, each channel's state row's norm

    @property
    def names(self) -> tuple[str, ...]:
        """The states kept: "h", and "c" (LSTM) or "s" (the SSM)."""
        return ("h",) + (("c",) if self.c is not None else ()) + (("s",) if self.s is not None else ())

    def of(self, state: str) -> np.ndarray:
        if state == "c" and self.c is None:
            raise ConfigError("only an LSTM has a cell state c")
        if state == "s" and self.s is None:
            raise ConfigError("only the selective SSM (S6) has a state s of N numbers per channel")
        if state not in ("h", "c", "s"):
            raise ConfigError(f"no state {state!r}: choose h, c (LSTM) or s (S6)")
        out = {"h": self.h, "c": self.c, "s": self.s}[state]
        assert out is not None
        return out


def corpus_states(
    w: TraceWeights, text: str, ids: np.ndarray, level: str, limit: int = MAX_POSITIONS, cancelled=None
) -> States:
    """Read the first `limit` tokens of a text (its ids) and keep every layer's states.
    cancelled(): checked between chunks; True stops the reading (LoadCancelled)."""
    ids = np.asarray(ids[:limit], dtype=np.int64)
    if len(ids) < 2:
        raise ConfigError("the neuron finder needs a text of at least 2 tokens")
    L, H = w.cfg.layers, w.cfg.hidden
    h = np.empty((L, len(ids), H))
    c = np.empty((L, len(ids), H)) if w.cfg.arch == "lstm" else None
    s = np.empty((L, len(ids), H)) if w.cfg.arch == "ssm" else None
    state = None
    for at in range(0, len(ids), CHUNK):
        if cancelled is not None and cancelled():
            raise LoadCancelled("reading the corpus was cancelled")
        fwd = forward(w, ids[at : at + CHUNK], state)
        for n, f in enumerate(fwd):
            h[n, at : at + len(f["h"])] = f["h"]
            if c is not None:
                c[n, at : at + len(f["h"])] = f["c"]
            if s is not None:  # (T, H, N) -> (T, H): a channel's state row as one number
                s[n, at : at + len(f["h"])] = np.linalg.norm(f["s"], axis=-1)
        state = final_state(fwd)
    spans = token_spans(text, level, len(ids))
    return States(h, c, text, spans, level, s)


# ---- features: one value per character, then per token -------------------------------------
def char_feature(text: str, feature: str) -> tuple[np.ndarray, str]:
    """(one value per character, "builtin" or "regex"): a built-in feature's value, or 1 where a
    match of the regular expression covers the character."""
    if feature in FEATURES:
        return _BUILTIN[feature](text), "builtin"
    try:
        pattern = re.compile(feature)
    except re.error as exc:
        names = ", ".join(FEATURES)
        raise ConfigError(
            f"{feature!r} is neither a built-in feature ({names}) nor a regular expression: {exc}"
        ) from None
    return regex_cover(text, pattern.pattern), "regex"


REGEX_SECONDS = 5.0  # a regular expression that runs longer over the text read is stopped
_COVER = r"""
import re, signal, sys
signal.alarm(int(sys.argv[1]))  # ends this child even if its parent has gone (re holds on)
data = sys.stdin.buffer.read()
n = data.index(b"\n")
size = int(data[:n])
pattern = data[n + 1 : n + 1 + size].decode("utf-8", "surrogatepass")
text = data[n + 1 + size :].decode("utf-8", "surrogatepass")
covered = bytearray(len(text))
for m in re.finditer(pattern, text):
    covered[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
sys.stdout.buffer.write(covered)
"""


def regex_cover(text: str, pattern: str, seconds: float = REGEX_SECONDS) -> np.ndarray:
    """1.0 where a match of `pattern` covers a character of `text`, else 0.0. Matched in a child
    Python that is stopped after `seconds`: Python's re cannot be interrupted, and a nested
    repetition such as (a+)+$ can take longer than the universe's age on a few dozen characters
    (ConfigError, one line). A child costs ~30 ms; the finder ranks on a click, not a keystroke."""
    import subprocess
    import sys

    raw = pattern.encode("utf-8", "surrogatepass")
    data = b"%d\n" % len(raw) + raw + text.encode("utf-8", "surrogatepass")
    try:
        alarm = str(int(seconds) + 2)
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _COVER, alarm], input=data,
                              capture_output=True, timeout=seconds, check=False)  # fmt: skip
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"the regular expression {pattern!r} ran for over {seconds:g} s on {len(text):,} characters "
            "and was stopped: a nested repetition such as (a+)+ can take for ever; simplify it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot match the regular expression: {exc.strerror or exc}") from None
    if done.returncode != 0 or len(done.stdout) != len(text):
        why = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["?"])[-1]
        raise ConfigError(f"the regular expression {pattern!r} could not be matched: {why}")
    return np.frombuffer(done.stdout, dtype=np.uint8).astype(float)


def token_feature(states: States, feature: str) -> tuple[np.ndarray, str]:
    """One value per token read: a character's value (word level: a regular expression covers a
    token when it covers any of its characters; a built-in feature is read at its first one)."""
    values, kind = char_feature(states.text[: int(states.spans[-1, 1])], feature)  # the part read
    starts, ends = states.spans[:, 0], states.spans[:, 1]
    if kind == "regex" and states.level != "char":
        csum = np.concatenate([[0.0], np.cumsum(values)])
        return (csum[ends] - csum[starts] > 0).astype(float), kind
    return values[starts], kind


def _quotes(text: str) -> np.ndarray:
    out, inside = np.zeros(len(text)), False
    for i, ch in enumerate(text):
        if ch == '"':
            out[i] = 1.0
            inside = not inside
            continue
        if ch == "\u201c":
            inside = True
        out[i] = float(inside or ch == "\u201d")
        if ch == "\u201d":
            inside = False
    return out


def _depth(text: str) -> np.ndarray:
    out, d = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        if ch in "([{":
            d += 1
        out[i] = d
        if ch in ")]}":
            d = max(d - 1, 0)
    return out


def _word_position(text: str) -> np.ndarray:
    out, k = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        k = k + 1 if ch.isalnum() or ch == "_" else 0
        out[i] = k
    return out


def _after_space(text: str) -> np.ndarray:
    out = np.zeros(len(text))
    out[1:] = [float(ch == " ") for ch in text[:-1]]
    return out


def _line_position(text: str) -> np.ndarray:
    out, k = np.zeros(len(text)), 0
    for i, ch in enumerate(text):
        out[i] = k
        k = 0 if ch == "\n" else k + 1
    return out


def _python_strings(text: str) -> np.ndarray:
    """1 inside a Python string literal (its quotes included): a scan that knows comments, the
    four kinds of quotes and backslash escapes (not f-string nesting)."""
    out, i, n = np.zeros(len(text)), 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif ch in "'\"":
            quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else ch
            j = i + len(quote)
            while j < n and not text.startswith(quote, j) and (len(quote) == 3 or text[j] != "\n"):
                j += 2 if text[j] == "\\" else 1
            end = min(j + len(quote), n) if j < n and text.startswith(quote, j) else min(j, n)
            out[i:end] = 1.0
            i = end
        else:
            i += 1
    return out


def _indent(text: str) -> np.ndarray:
    out, at = np.zeros(len(text)), 0
    for line in text.split("\n"):
        body = line.lstrip(" \t")
        lead = line[: len(line) - len(body)]
        out[at : at + len(line) + 1] = (lead.count(" ") + 8 * lead.count("\t")) // 4
        at += len(line) + 1
    return out


_BUILTIN = {
    "quotes": _quotes,
    "depth": _depth,
    "word_position": _word_position,
    "after_space": _after_space,
    "line_position": _line_position,
    "string": _python_strings,
    "indent": _indent,
}


# ---- ranking and contexts ----------------------------------------------------------------------
@dataclass(frozen=True)
class UnitScore:
    layer: int  # from 0
    unit: int
    state: str  # "h", "c" or "s"
    r: float  # Pearson correlation with the feature


def correlations(a: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Pearson r of every column of a (N, U) with f (N,); 0 for a constant column."""
    a = a - a.mean(axis=0)
    f = f - f.mean()
    norms = np.sqrt((a * a).sum(axis=0)) * np.sqrt(f @ f)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (f @ a) / norms
    return np.where(norms > 0, r, 0.0)


def rank_units(states: States, values: np.ndarray) -> list[UnitScore]:
    """Every unit of every layer (h, and c for an LSTM, s for the SSM), most correlated with
    `values` first."""
    if np.ptp(values) == 0:
        raise ConfigError("the feature is the same at every position of this text: nothing to correlate")
    scores = []
    for state in states.names:
        acts = states.of(state)
        for n in range(acts.shape[0]):
            r = correlations(acts[n], values)
            scores += [UnitScore(n, u, state, float(r[u])) for u in range(len(r))]
    return sorted(scores, key=lambda s: -abs(s.r))


@dataclass(frozen=True)
class Context:
    position: int  # the token's index
    activation: float
    deviation: float  # activation - the unit's mean over the positions after warm-up
    before: str  # the text before the token (up to `width` characters)
    token: str
    after: str


def top_contexts(states: States, layer: int, unit: int, state: str = "h", k: int = 5, sign: float = 1.0,
                 width: int = 30, warmup: int = WARMUP) -> list[Context]:  # fmt: skip
    """The k positions whose activation lies furthest from the unit's mean in the direction of
    `sign` (+1: above it, -1: below it), each with its text around it. The first `warmup` tokens
    are not candidates (nor counted in the mean); positions closer than `width` characters to a
    chosen one are skipped."""
    a = states.of(state)[layer, :, unit]
    first = warmup if len(a) > warmup else 0
    mean = float(a[first:].mean())
    order = first + np.argsort(-sign * (a[first:] - mean), kind="stable")
    chosen: list[int] = []
    for p in order if k > 0 else ():
        start = states.spans[p, 0]
        if all(abs(start - states.spans[q, 0]) >= width for q in chosen):
            chosen.append(int(p))
            if len(chosen) == k:
                break
    text, out = states.text, []
    for p in chosen:
        s, e = states.spans[p]
        before, after = text[max(0, s - width) : s], text[e : e + width // 2]
        out.append(Context(p, float(a[p]), float(a[p] - mean), before, text[s:e], after))
    return out


def both_ends(states: States, layer: int, unit: int, state: str, r: float = 1.0, k: int = 5):
    """(the k contexts furthest from the mean in the direction of the correlation r, the k
    furthest the other way): for r >= 0 the highest, then the lowest."""
    sign = 1.0 if r >= 0 else -1.0
    return top_contexts(states, layer, unit, state, k, sign), top_contexts(
        states, layer, unit, state, k, -sign
    )
