"""Session files (.rnnviz): everything needed to put the screen back as it was.

A zip archive of these members, none of which can run code when read:
  model.safetensors  the weights and model (the checkpoint format, see README)
  session.json       format "rnnviz-session/1": the corpus (built-in name, or path and SHA-256 of
                     its text), training settings with the seed, preset, typed text, view state
  history.npz        the training curves and gradient norms (plain arrays, read without pickle)
  corpus.txt         the corpus's text (up to 32 MB): the session opens anywhere, and a file
                     at the recorded path (or a built-in whose text differs here, as
                     builtin:python does between Pythons) is used only if its text is the one saved
Writing is atomic (the previous file stays whole on any failure)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from rnnviz import __version__
from rnnviz.core.checkpoint import Checkpoint, checkpoint_bytes, parse_checkpoint, write_atomic
from rnnviz.core.corpus import BUILTIN_PREFIX, Corpus, load_corpus
from rnnviz.core.errors import CheckpointError, RnnvizError
from rnnviz.core.session import TrainerSpec, corpus_meta, corpus_record, spec_from, train_config_from

FORMAT = "rnnviz-session/1"
SUFFIX = ".rnnviz"
MODEL, DOC, HISTORY, CORPUS = "model.safetensors", "session.json", "history.npz", "corpus.txt"
CORPUS_CAP = 32 * 1024**2  # a bigger corpus is recorded by path and hash only
MEMBER_CAPS = {
    DOC: 16 * 1024**2,
    HISTORY: 256 * 1024**2,
    MODEL: 2 * 1024**3,
    CORPUS: CORPUS_CAP,
}  # bigger: not one of ours
MAX_ARRAY_BYTES = 64 * 1024**2  # one history array (the views keep 20,000 points a series)
MAX_ARRAYS = 2048  # arrays in history.npz (two or three per curve and per weight matrix)
MAX_MEMBERS = 16  # members of a session archive (rnnviz writes four)
TOTAL_CAP = sum(MEMBER_CAPS.values())  # all members together, inflated
SMALL = 64 * 1024**2  # above this, an archive inflating more than MAX_RATIO times is a bomb
MAX_RATIO = 100  # weights and curves hardly compress; a bomb of zeros inflates ~1000 times
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what rnnviz writes; bzip2 and lzma inflate unbounded
CHUNK = 1024**2


class SessionError(RnnvizError):
    """A session file that cannot be read or written."""


class SessionCancelled(SessionError):
    """The user stopped opening a session."""


@dataclass(frozen=True)
class Session:
    checkpoint: Checkpoint
    doc: dict  # session.json
    history: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    corpus_text: str | None = field(default=None, repr=False)  # corpus.txt, when saved

    @property
    def typed_text(self) -> str:
        text = self.doc.get("typed_text", "")
        return text if isinstance(text, str) else ""

    @property
    def view(self) -> dict:
        view = self.doc.get("view", {})
        return view if isinstance(view, dict) else {}


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def corpus_doc(corpus: Corpus) -> dict:
    record = corpus_record(corpus)
    return {
        "spec": record,
        "builtin": record.startswith(BUILTIN_PREFIX),
        "level": corpus.level,
        "tokens": int(len(corpus.ids)),
        "sha256": text_sha256(corpus.text),
    }


def save_session(
    path: str | Path,
    trainer_state: dict,
    weights: dict[str, np.ndarray],
    steps: int,
    typed_text: str,
    view: dict,
    history: dict[str, np.ndarray],
) -> Path:
    """trainer_state: {"model_cfg", "vocab", "corpus" (a Corpus), "train" (a TrainConfig's dict),
    "preset"}. Raises SessionError."""
    path = Path(path)
    if path.suffix.lower() != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    corpus, train = trainer_state["corpus"], trainer_state["train"]
    extra = {**corpus_meta(corpus), "preset": trainer_state.get("preset")}
    model = checkpoint_bytes(trainer_state["model_cfg"], trainer_state["vocab"], weights, train, steps, extra)
    doc = {
        "format": FORMAT,
        "rnnviz_version": __version__,
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "corpus": corpus_doc(corpus),
        "seed": train.get("seed"),
        "train": train,
        "steps": int(steps),
        "preset": trainer_state.get("preset"),
        "typed_text": typed_text,
        "view": view,
    }
    arrays = io.BytesIO()
    np.savez_compressed(arrays, **cast(dict[str, Any], {k: np.asarray(v) for k, v in history.items()}))
    blob = io.BytesIO()
    with zipfile.ZipFile(blob, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(DOC, json.dumps(doc, indent=1, ensure_ascii=False))
        z.writestr(MODEL, model)
        z.writestr(HISTORY, arrays.getvalue())
        text = corpus.text.encode("utf-8")
        if len(text) <= CORPUS_CAP:
            z.writestr(CORPUS, text)
    try:
        write_atomic(path, blob.getvalue())
    except RnnvizError as exc:
        raise SessionError(str(exc).replace("cannot save", "cannot save the session")) from None
    return path


def load_session(path: str | Path, stop=None) -> Session:
    """Raises SessionError (one line) for anything that is not a whole, sane session file.
    Sizes, member count and compression are checked from the central directory before anything
    is inflated; members are read in chunks, never past their cap. stop(): True to cancel
    (SessionCancelled), polled between chunks."""
    p = Path(path)
    if not p.is_file():
        raise SessionError(f"no such file: {p}" if not p.exists() else f"{p} is not a file")
    try:
        with zipfile.ZipFile(p) as z:
            members = _members(z, p.name, MAX_MEMBERS, TOTAL_CAP, p.stat().st_size)
            missing = [m for m in (DOC, MODEL) if m not in members]
            if missing:
                raise SessionError(f"{p.name} is not an rnnviz session (no {missing[0]} inside)")
            for name, cap in MEMBER_CAPS.items():
                if name in members and members[name].file_size > cap:
                    raise SessionError(f"{p.name}: its {name} is too large for an rnnviz session")

            def read(name: str) -> bytes:
                return _read(z, members[name], MEMBER_CAPS[name], p.name, stop)

            doc = _doc(read(DOC), p.name)
            checkpoint = parse_checkpoint(read(MODEL), f"{p.name}: the model")
            history = _history(read(HISTORY), p.name) if HISTORY in members else {}
            corpus_text = read(CORPUS).decode("utf-8") if CORPUS in members else None
    except SessionError:
        raise
    except CheckpointError as exc:
        raise SessionError(str(exc)) from None
    except zipfile.BadZipFile:
        raise SessionError(f"{p.name} is not an rnnviz session (not a zip archive, or truncated)") from None
    except OSError as exc:
        raise SessionError(f"cannot read {p}: {exc.strerror or exc}") from None
    except MemoryError:
        raise SessionError(f"not enough memory to open {p.name}") from None
    except Exception as exc:  # noqa: BLE001 - a damaged archive can fail in many ways: say so in one line
        raise SessionError(f"{p.name} is damaged and cannot be opened ({type(exc).__name__})") from None
    return Session(checkpoint, doc, history, corpus_text)


def _members(z: zipfile.ZipFile, name: str, most: int, total_cap: int, packed: int) -> dict:
    """The archive's members by name, from its central directory, before anything is inflated:
    refused when too many, named twice or oddly, compressed with a method rnnviz does not
    write, or inflating to more than total_cap (or more than MAX_RATIO times the file, above SMALL)."""
    infos = z.infolist()
    if len(infos) > most:
        raise SessionError(f"{name} holds {len(infos):,} members: not an rnnviz session")
    members = {i.filename: i for i in infos}
    if len(members) < len(infos):
        raise SessionError(f"{name} holds two members of the same name: not an rnnviz session")
    for i in infos:
        if ".." in i.filename.split("/") or i.filename.startswith(("/", "\\")) or "\x00" in i.filename:
            raise SessionError(f"{name} holds a member named {i.filename[:60]!r}: not an rnnviz session")
        if i.compress_type not in METHODS:
            raise SessionError(f"{name} uses a compression method rnnviz does not write ({i.compress_type})")
    total = sum(i.file_size for i in infos)
    if total > total_cap or (total > SMALL and total > MAX_RATIO * packed):
        raise SessionError(f"{name} would inflate to {total / 2**20:,.0f} MB: refused (a zip bomb?)")
    return members


def _read(z: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, name: str, stop) -> bytes:
    """A member's bytes, read in chunks and never past `cap` (whatever its declared size)."""
    parts, got = [], 0
    with z.open(info) as f:
        while chunk := f.read(CHUNK):
            got += len(chunk)
            if got > cap:
                raise SessionError(f"{name}: its {info.filename} is too large for an rnnviz session")
            if stop is not None and stop():
                raise SessionCancelled(f"opening {name} was cancelled")
            parts.append(chunk)
    return b"".join(parts)


def _doc(raw: bytes, name: str) -> dict:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise SessionError(f"{name}: its session.json is not valid JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        raise SessionError(f"{name} is not a session this version reads (format {found!r}, not {FORMAT!r})")
    return doc


def _history(raw: bytes, name: str) -> dict[str, np.ndarray]:
    """Plain arrays only: (2, n) floats of steps and values, or the 1-D steps and texts of marks;
    each array's size is checked from its header before it is read."""
    damaged = SessionError(f"{name}: its training history is damaged")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as inner:
            infos = _members(inner, f"{name}: its history", MAX_ARRAYS, MEMBER_CAPS[HISTORY], len(raw))
            for info in infos.values():
                with inner.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else (
                        np.lib.format.read_array_header_2_0)  # fmt: skip
                    shape, _, dtype = read_header(f)
                nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
                if dtype.hasobject or nbytes > min(MAX_ARRAY_BYTES, info.file_size):  # .npy is not compressed
                    raise damaged
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except SessionError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError):
        raise damaged from None
    for key, a in arrays.items():
        if key.endswith("/texts"):
            ok = a.ndim == 1 and a.dtype.kind == "U"
            ok = ok and arrays.get(key[: -len("texts")] + "steps", np.zeros(0)).shape == a.shape
        elif key.endswith("/steps"):
            ok = a.ndim == 1 and a.dtype.kind in "iu"
        else:
            ok = a.ndim == 2 and a.shape[0] == 2 and a.dtype.kind in "fiu"
        if not ok:
            raise damaged
    return arrays


def session_spec(session: Session, fallback_corpus: str, device: str = "auto") -> TrainerSpec:
    """The trainer to go on with. A corpus file is read at its recorded path only if its text is
    the one saved (its SHA-256); else the copy inside the session is used, or else `fallback_corpus`,
    each with a note. (So a session names no file that is read unless it is the file it was.)"""
    ck, saved = session.checkpoint, session.doc.get("corpus")
    saved = saved if isinstance(saved, dict) else {}
    path, digest = saved.get("spec"), saved.get("sha256")
    if ck.model_cfg.regression or not isinstance(path, str):
        return spec_from(ck, fallback_corpus, device)
    if path.startswith(BUILTIN_PREFIX):
        return _builtin_spec(session, path, digest, fallback_corpus, device)
    text, note = _file_text(path, digest, ck.level), None
    why = "was not found" if not Path(path).is_file() else "has changed since this session was saved"
    if text is None and session.corpus_text is not None and text_sha256(session.corpus_text) == digest:
        text = session.corpus_text
        note = f"{path} {why}: training goes on with the copy of its text saved in the session"
    if text is None:
        spec = spec_from(replace(ck, meta={**ck.meta, "corpus": ""}), fallback_corpus, device)
        now = spec.notes[0].split("; ", 1)[-1] if spec.notes else f"it now trains on {fallback_corpus}"
        return replace(spec, notes=(f"{path} {why} and the session holds no copy of it: {now}",))
    corpus = Corpus.from_text(text, ck.level, path, vocab=ck.vocab)
    return TrainerSpec(corpus, ck.model_cfg, train_config_from(ck.train), ck.weights, ck.steps, device,
                       ck.meta.get("preset"), (note,) if note else ())  # fmt: skip


def _builtin_spec(session: Session, name: str, digest, fallback_corpus: str, device: str) -> TrainerSpec:
    """A built-in corpus as it is here, unless its text differs from the one saved (builtin:python
    is this Python's standard library) and the session holds that text: then the saved copy."""
    ck, copy = session.checkpoint, session.corpus_text
    try:
        same = text_sha256(load_corpus(name, ck.level).text) == digest
    except RnnvizError:  # e.g. a Python without its sources, or a name this version does not know
        same = False
    if same or copy is None or text_sha256(copy) != digest:
        return spec_from(ck, fallback_corpus, device)
    corpus = Corpus.from_text(copy, ck.level, name, vocab=ck.vocab)
    note = f"{name} is not the text this session was saved with here: training goes on with its saved copy"
    return TrainerSpec(corpus, ck.model_cfg, train_config_from(ck.train), ck.weights, ck.steps, device,
                       ck.meta.get("preset"), (note,))  # fmt: skip


def _file_text(path: str, digest, level: str) -> str | None:
    """The file's (normalised) text if it is the one the session saved, else None."""
    if not isinstance(digest, str) or not Path(path).is_file():
        return None
    try:
        text = load_corpus(path, level).text
    except RnnvizError:
        return None
    return text if text_sha256(text) == digest else None
