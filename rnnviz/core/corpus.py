"""Text in, token ids out: file loading, NFC normalisation, tokenisation and the vocabulary."""

from __future__ import annotations

import codecs
import itertools
import re
import sysconfig
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from rnnviz.core.errors import CorpusError, VocabError
from rnnviz.core.files import NotRegularFile, open_regular

UNK = "<unk>"
LEVELS = ("char", "word")
BUILTIN_PREFIX = "builtin:"
# Built-in corpora: name -> (file under assets/corpora, one-line description).
BUILTINS = {
    "story": ("story.txt", "original English stories and essays (~50 KB): the default"),
    "fable": ("fable.txt", "an original short fable (~300 words), for word-level models"),
    "words": ("words.txt", "toy words (welcome, please, namaskar, hello, home, ...)"),
    "brackets": ("brackets.txt", "nested brackets with letters: a unit should count the depth"),
    "python": ("", "the Python standard library's own .py sources, read at run time (several MB)"),
    "recall": ("", "associative recall, generated: key-value pairs, then a key whose value is the answer"),
}
# Words (with inner apostrophes) or single punctuation marks; whitespace separates.
_WORD_RE = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")
_SPACE_RE = re.compile(r"\s")
WORD_CHUNK = 1 << 18  # characters tokenised while holding the GIL (about 10 ms)
# As the corpora spell them: "-" joins compounds (twenty-two), a lone "'" ends a plural possessive.
_NO_SPACE_BEFORE = set(".,;:!?)]}%-'\u201d")
_NO_SPACE_AFTER = set("([{-\u201c")


def assets_dir() -> Path:
    """The assets folder: inside the installed wheel, else the repository's top-level assets/."""
    packaged = resources.files("rnnviz") / "assets"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[2] / "assets"


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def normalise(text: str) -> str:
    """NFC normalisation and Unix newlines: the same text always gives the same tokens."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def tokenize(text: str, level: str) -> list[str]:
    """Split normalised text into tokens: characters, or words and punctuation marks."""
    text = normalise(text)
    if level == "char":
        return list(text)
    if level == "word":
        return _find_words(text)
    raise CorpusError(f"unknown level {level!r}: choose char or word")


def _find_words(text: str, chunk: int = WORD_CHUNK) -> list[str]:
    """_WORD_RE.findall(text), a chunk of about `chunk` characters at a time, each ending at a
    whitespace (no token holds one, so the tokens are the same): one findall holds the GIL
    throughout, and over a 16 MB corpus read on a worker thread it froze the window 0.7 s."""
    if len(text) <= chunk:
        return _WORD_RE.findall(text)
    out: list[str] = []
    start = 0
    while start < len(text):
        space = _SPACE_RE.search(text, start + chunk)
        end = space.end() if space else len(text)
        out += _WORD_RE.findall(text, start, end)
        start = end
    return out


def token_spans(text: str, level: str, limit: int | None = None) -> np.ndarray:
    """(N, 2) where each token of a normalised text starts and ends in it (as tokenize splits it);
    the first `limit` tokens only, if given."""
    if level == "char":
        starts = np.arange(len(text) if limit is None else min(limit, len(text)))
        return np.stack([starts, starts + 1], axis=1)
    if level == "word":
        spans = (m.span() for m in _WORD_RE.finditer(text))
        first = itertools.islice(spans, limit) if limit is not None else spans
        return np.array(list(first), dtype=np.int64).reshape(-1, 2)
    raise CorpusError(f"unknown level {level!r}: choose char or word")


def detokenize(tokens: list[str], level: str) -> str:
    """Join tokens back into readable text. Word level: spaces between words, none before
    punctuation, none inside quotes ("Badger," not " Badger, "), none around a hyphen."""
    if level == "char":
        return "".join(tokens)
    out: list[str] = []
    inside = False  # within a pair of straight double quotes: the next '"' closes it
    for tok in tokens:
        glued = tok in _NO_SPACE_BEFORE or (tok == '"' and inside)
        if out and not glued and out[-1] not in _NO_SPACE_AFTER and not (out[-1] == '"' and inside):
            out.append(" ")
        out.append(tok)
        inside = inside != (tok == '"')
    return "".join(out)


@dataclass(frozen=True)
class Vocab:
    """Tokens in index order; index 0 is always <unk>, for anything the corpus never showed."""

    tokens: tuple[str, ...]
    level: str
    stoi: dict[str, int] = field(init=False, repr=False, compare=False)
    _chars: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise CorpusError(f"unknown level {self.level!r}: choose char or word")
        if not self.tokens or self.tokens[0] != UNK:
            raise CorpusError("a vocabulary must start with the <unk> token")
        if len(set(self.tokens)) != len(self.tokens):
            raise CorpusError("the vocabulary has duplicate tokens")
        object.__setattr__(self, "stoi", {t: i for i, t in enumerate(self.tokens)})
        pairs = sorted((ord(t), i) for i, t in enumerate(self.tokens) if len(t) == 1)
        char_codes = np.array([c for c, _ in pairs], dtype=np.uint32)
        object.__setattr__(self, "_chars", (char_codes, np.array([i for _, i in pairs], dtype=np.int64)))

    @classmethod
    def build(cls, text: str, level: str) -> Vocab:
        if level != "char":
            return cls.of_tokens(tokenize(text, level), level)
        # numpy over code points: fast and lean on long texts
        return cls((UNK, *(chr(c) for c in np.unique(_code_points(normalise(text))))), level)

    @classmethod
    def of_tokens(cls, tokens: list[str], level: str) -> Vocab:
        """The vocabulary of a tokenised text: <unk>, then its distinct tokens in sorted order."""
        return cls((UNK, *sorted(set(tokens) - {UNK})), level)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def unk_id(self) -> int:
        return 0

    def ids(self, tokens: list[str]) -> np.ndarray:
        return np.fromiter((self.stoi.get(t, 0) for t in tokens), dtype=np.int64, count=len(tokens))

    def encode(self, text: str) -> np.ndarray:
        if self.level != "char":
            return self.ids(tokenize(text, self.level))
        codes = _code_points(normalise(text))
        keys, values = self._chars  # sorted code points of one-character tokens, their ids
        if len(keys) == 0:
            return np.zeros(len(codes), dtype=np.int64)
        at = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
        return np.where(keys[at] == codes, values[at], 0)

    def decode(self, ids) -> str:
        return detokenize([self.tokens[int(i)] for i in ids], self.level)

    def unknown(self, tokens: list[str]) -> list[str]:
        """The distinct tokens not in the vocabulary, in order of first appearance."""
        return list(dict.fromkeys(t for t in tokens if t not in self.stoi))

    def require_known(self, tokens: list[str]) -> None:
        missing = self.unknown(tokens)
        if missing:
            shown = ", ".join(repr(t) for t in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise VocabError(f"not in the vocabulary: {shown}")


class NotUtf8Error(CorpusError):
    """The file is not UTF-8; it may still be read with another encoding (e.g. latin-1)."""


class LoadCancelled(CorpusError):
    """The user stopped a long read."""


CHUNK = 4 * 1024 * 1024


def read_text(
    path: str | Path,
    encoding: str = "utf-8",
    max_bytes: int | None = None,
    progress: Callable[[int, int], bool] | None = None,
) -> str:
    """Read a text file; every way it can be unusable becomes a one-line CorpusError.

    max_bytes: read only the first max_bytes (a prefix of a huge file, cut at a character).
    progress(done, total): called after every 4 MiB chunk; returning False cancels the read.
    """
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"no such file: {p}")
    if p.is_dir():
        raise CorpusError(f"{p} is a directory, not a text file")
    try:
        fh, size = open_regular(p)
        total = size if max_bytes is None else min(size, max_bytes)
        parts, done = [], 0
        with fh:
            while done < total:
                chunk = fh.read(min(CHUNK, total - done))
                if not chunk:
                    break
                parts.append(chunk)
                done += len(chunk)
                if progress is not None and progress(done, total) is False:
                    raise LoadCancelled(f"stopped reading {p}")
    except NotRegularFile as exc:
        raise CorpusError(f"cannot read {exc}") from None
    except OSError as exc:
        raise CorpusError(f"cannot read {p}: {exc.strerror or exc}") from None
    return decode_text(b"".join(parts), str(p), encoding, truncated=done < size)


def decode_text(data: bytes, name: str, encoding: str = "utf-8", truncated: bool = False) -> str:
    """Bytes -> normalised text. truncated: the bytes are a prefix (a cut character is dropped)."""
    if not data:
        raise CorpusError(f"{name} is empty")
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise CorpusError(f"unknown text encoding {encoding!r}") from None
    if not getattr(info, "_is_text_encoding", True):  # base64, hex, rot13, zlib...: not text encodings
        raise CorpusError(f"{encoding!r} is not a text encoding (try utf-8, latin-1 or utf-16)")
    binary = CorpusError(f"{name} looks like a binary file (it contains NUL bytes), not text")
    if info.name in ("utf-8", "utf-8-sig"):
        if b"\x00" in data[:65536]:
            raise binary
        text = _decode_utf8(data, name, truncated)
    else:  # decoded first: in UTF-16 every ASCII character holds a NUL byte
        try:
            text = data.decode(encoding, errors="replace")
        except (UnicodeError, ValueError) as exc:
            raise CorpusError(f"{name} cannot be read as {encoding}: {exc}") from None
        if "\x00" in text[:65536]:
            raise binary
    text = normalise(text)
    if not text.strip():
        raise CorpusError(f"{name} contains only whitespace")
    return text


def _decode_utf8(data: bytes, name: str, truncated: bool) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return data[: exc.start].decode("utf-8-sig")  # the prefix cut a character in two
        raise NotUtf8Error(
            f"{name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8 or choose another encoding (e.g. latin-1)"
        ) from None


@dataclass(frozen=True)
class Corpus:
    """A tokenised text and its vocabulary."""

    name: str
    text: str
    vocab: Vocab
    ids: np.ndarray  # (N,) int64

    @property
    def level(self) -> str:
        return self.vocab.level

    @classmethod
    def from_text(cls, text: str, level: str, name: str = "text", vocab: Vocab | None = None):
        text = normalise(text)
        if vocab is None and level == "word":  # tokenised once, for the vocabulary and the ids
            tokens = tokenize(text, level)
            vocab = Vocab.of_tokens(tokens, level)
            ids = vocab.ids(tokens)
        else:
            vocab = vocab or Vocab.build(text, level)
            ids = vocab.encode(text)
        if len(ids) < 2:
            raise CorpusError(f"{name} has {len(ids)} token(s) at {level} level; at least 2 needed")
        return cls(name, text, vocab, ids)

    def split(self, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
        """Training ids and held-out ids (the last val_fraction of the text)."""
        n_val = int(len(self.ids) * val_fraction)
        if val_fraction <= 0 or n_val < 2:
            return self.ids, self.ids[:0]
        return self.ids[:-n_val], self.ids[-n_val:]


def builtin_path(spec: str) -> Path | None:
    """The file behind `builtin:NAME` (an unknown name is a CorpusError; builtin:python, read from
    the standard library, gives the stdlib's folder); None for any other spec."""
    if not spec.startswith(BUILTIN_PREFIX):
        return None
    name = spec[len(BUILTIN_PREFIX) :]
    if name not in BUILTINS:
        raise CorpusError(f"no built-in corpus {name!r}; choose one of: {', '.join(BUILTINS)}")
    if name == "python":
        return Path(sysconfig.get_paths()["stdlib"])
    if name == "recall":
        return Path(__file__).with_name("recall.py")
    return assets_dir() / "corpora" / BUILTINS[name][0]


def python_sources(folder: Path | None = None) -> str:
    """builtin:python: the .py files at the top of the standard library's folder (this Python's
    own), in the order of their names, one after the other; nothing is copied into rnnviz."""
    folder = Path(sysconfig.get_paths()["stdlib"]) if folder is None else folder
    files = sorted(folder.glob("*.py")) if folder.is_dir() else []
    if not files:
        raise CorpusError(
            f"builtin:python reads the standard library's .py sources, and this Python has none in {folder} "
            "(it was installed without them): choose another corpus"
        )
    return "\n".join(read_text(f) for f in files)


def load_corpus(spec: str, level: str = "char", encoding: str = "utf-8") -> Corpus:
    """`builtin:NAME` or a path to a text file (UTF-8 unless another encoding is named)."""
    if spec == BUILTIN_PREFIX + "python":
        return Corpus.from_text(python_sources(), level, spec)
    if spec == BUILTIN_PREFIX + "recall":
        from rnnviz.core.recall import recall_text

        return Corpus.from_text(recall_text(), level, spec)
    builtin = builtin_path(spec)
    text = read_text(builtin) if builtin is not None else read_text(spec, encoding)
    return Corpus.from_text(text, level, spec)
