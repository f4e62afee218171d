"""Checkpoints: one safetensors file, tensors named by the model's state_dict keys.

The metadata key `rnnviz` holds JSON describing the model (see README, "Checkpoint format").
Loading parses bytes only (no pickle, no code); writing is atomic (temp file, fsync, replace).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from rnnviz import __version__
from rnnviz.core.config import ModelConfig
from rnnviz.core.corpus import Vocab
from rnnviz.core.errors import CheckpointError, RnnvizError
from rnnviz.core.files import NotRegularFile, open_regular

FORMAT = "rnnviz-checkpoint/1"
META_KEY = "rnnviz"
_MAX_HEADER = 64 * 1024 * 1024
MAX_MODEL_BYTES = 4 * 1024**3  # the largest model rnnviz builds (3 layers of 4096 LSTM units) is ~1.6 GB
DTYPES = ("F16", "F32", "F64")  # the tensor types read (rnnviz writes F32); bfloat16 has no numpy type


def _no_constant(name: str):
    raise ValueError(f"it holds {name}, which is not a number JSON allows")


@dataclass(frozen=True)
class Checkpoint:
    model_cfg: ModelConfig
    vocab: Vocab | None  # None for a value model (a forecaster of real numbers)
    weights: dict[str, np.ndarray] = field(repr=False)
    train: dict = field(default_factory=dict)  # the training config, as saved
    steps: int = 0  # updates applied
    meta: dict = field(default_factory=dict, repr=False)  # the whole metadata document

    @property
    def level(self) -> str:
        """How the model reads: "char" or "word" (its vocabulary's level), or "value" (a forecaster)."""
        return "value" if self.vocab is None else self.vocab.level


def save_checkpoint(
    path: str | Path,
    model_cfg: ModelConfig,
    vocab: Vocab | None,
    weights: dict[str, np.ndarray],
    train: dict | None = None,
    steps: int = 0,
    extra: dict | None = None,
) -> None:
    """Write atomically: on any failure the previous file at `path` is left as it was."""
    write_atomic(Path(path), checkpoint_bytes(model_cfg, vocab, weights, train, steps, extra))


def checkpoint_bytes(
    model_cfg: ModelConfig,
    vocab: Vocab | None,
    weights: dict[str, np.ndarray],
    train: dict | None = None,
    steps: int = 0,
    extra: dict | None = None,
) -> bytes:
    """The checkpoint file's contents (see README, "Checkpoint format")."""
    meta = {
        "format": FORMAT,
        "rnnviz_version": __version__,
        "arch": model_cfg.arch,
        "nonlinearity": model_cfg.nonlinearity,
        "layers": model_cfg.layers,
        "hidden": model_cfg.hidden,
        "input": model_cfg.input,
        "embed_dim": model_cfg.embed_dim,
        "output": model_cfg.output,
        **({"state": model_cfg.state} if model_cfg.arch == "ssm" else {}),
        "level": "value" if vocab is None else vocab.level,
        "vocab": [] if vocab is None else list(vocab.tokens),
        "train": train or {},
        "steps": steps,
        **(extra or {}),
    }
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
    return st_save(tensors, metadata={META_KEY: json.dumps(meta)})


def write_atomic(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, rename over. Anything at `path` that is not a regular
    file (a device, a FIFO, a folder) is refused; a symlink is written through: its target is
    replaced, atomically, and the link stays."""
    path = _save_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.fchmod(fd, path.stat().st_mode & 0o777 if path.exists() else 0o644)  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_dir(folder)
    except OSError as exc:
        raise CheckpointError(f"cannot save {path}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _save_target(path: Path) -> Path:
    """The regular file (existing or not) that saving to `path` replaces."""
    path = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise CheckpointError(f"cannot save {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise CheckpointError(f"cannot save {path}: it is {what} (rnnviz replaces only regular files)")
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(path: str | Path) -> Checkpoint:
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"no such file: {p}")
    if p.is_dir():
        raise CheckpointError(f"{p} is a directory, not a model file")
    try:
        fh, size = open_regular(p, MAX_MODEL_BYTES)
        with fh:
            data = fh.read(size + 1)
    except NotRegularFile as exc:
        raise CheckpointError(f"cannot read {exc}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {p}: {exc.strerror or exc}") from None
    if len(data) > size:
        raise CheckpointError(f"cannot read {p}: it grew while being read")
    return parse_checkpoint(data, str(p))


def parse_checkpoint(data: bytes, name: str = "model") -> Checkpoint:
    header = _header(data, name)
    raw = (header.get("__metadata__") or {}).get(META_KEY)
    if raw is None:
        raise CheckpointError(
            f"{name} is a safetensors file but not an rnnviz model (no '{META_KEY}' metadata)"
        )
    try:
        meta = json.loads(raw, parse_constant=_no_constant) if isinstance(raw, str) else None
        if not isinstance(meta, dict):
            raise ValueError("it is not a JSON object")
        value = meta.get("output", "tokens") == "value"
        model_cfg = ModelConfig(
            vocab_size=0 if value else len(meta["vocab"]),
            arch=meta["arch"],
            nonlinearity=meta["nonlinearity"],
            layers=meta["layers"],
            hidden=meta["hidden"],
            input=meta["input"],
            embed_dim=meta.get("embed_dim", 32),
            state=meta.get("state", 16),
            output=meta.get("output", "tokens"),
        )
        vocab = None if value else Vocab(tuple(meta["vocab"]), meta["level"])
        steps, train = int(meta.get("steps", 0)), meta.get("train") or {}
        if not isinstance(train, dict) or steps < 0:
            raise ValueError("'train' must be an object and 'steps' a count")
    except RecursionError:
        raise CheckpointError(f"{name} has invalid rnnviz metadata: nested too deep") from None
    except (ValueError, KeyError, TypeError, OverflowError, RnnvizError) as exc:
        raise CheckpointError(f"{name} has invalid rnnviz metadata: {exc}") from None
    for key, entry in header.items():
        kind = entry.get("dtype") if isinstance(entry, dict) and key != "__metadata__" else "F32"
        if kind not in DTYPES:
            raise CheckpointError(
                f"{name}: tensor {key[:60]!r} is of type {str(kind)[:20]!r}; rnnviz reads {', '.join(DTYPES)}"
            )
    try:
        weights = st_load(data)
    except Exception as exc:  # noqa: BLE001 - the parser's errors vary by version: one line, whatever they are
        raise CheckpointError(
            f"{name} is corrupt: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    _check_shapes(weights, expected_shapes(model_cfg), name)
    return Checkpoint(model_cfg, vocab, weights, train, steps, meta)


def _header(data: bytes, name: str) -> dict:
    """The safetensors header, decided by the file's structure, never by a magic-byte guess.

    A safetensors file starts with an 8-byte little-endian length n, then n bytes of a JSON object.
    Only when that structure is absent do the first bytes name what the file is instead: a
    header length of 640 (mod 65536) starts with 0x80 0x02, as a pickle does.
    """
    header = _safetensors_header(data)
    if header is not None:
        return header
    if data[:1] == b"\x80" and data[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise CheckpointError(f"{name} is a Python pickle; rnnviz refuses it (unpickling can run code)")
    if data[:4] == b"PK\x03\x04":
        raise CheckpointError(f"{name} is a zip archive (a torch.save file?); rnnviz reads only safetensors")
    if len(data) < 8:
        raise CheckpointError(f"{name} is too short to be a safetensors model file")
    n = int.from_bytes(data[:8], "little")
    if n <= 1 or n > min(_MAX_HEADER, len(data) - 8):
        raise CheckpointError(f"{name} is not a safetensors model file, or it is truncated")
    raise CheckpointError(f"{name} is not a safetensors model file (unreadable header)")


def _safetensors_header(data: bytes) -> dict | None:
    """The header if `data` has the safetensors structure (length within the file, JSON object)."""
    if len(data) < 8:
        return None
    n = int.from_bytes(data[:8], "little")
    if n <= 1 or n > min(_MAX_HEADER, len(data) - 8) or data[8:9] != b"{":
        return None
    try:
        header = json.loads(data[8 : 8 + n])
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return header if isinstance(header, dict) else None


def expected_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """state_dict key -> shape, the same as PyTorch's modules give (checked in the tests)."""
    H, V = cfg.hidden, cfg.out_size
    shapes: dict[str, tuple[int, ...]] = {}
    if cfg.input == "embedding":
        shapes["embedding.weight"] = (V, cfg.embed_dim)
    if cfg.modern:
        return shapes | modern_shapes(cfg) | {"head.weight": (V, H), "head.bias": (V,)}
    G = {"rnn": 1, "lstm": 4, "gru": 3}[cfg.arch]
    for n in range(cfg.layers):
        d = cfg.input_size if n == 0 else H
        shapes |= {
            f"rnn.weight_ih_l{n}": (G * H, d),
            f"rnn.weight_hh_l{n}": (G * H, H),
            f"rnn.bias_ih_l{n}": (G * H,),
            f"rnn.bias_hh_l{n}": (G * H,),
        }
    shapes |= {"head.weight": (V, H), "head.bias": (V,)}
    return shapes


def modern_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The layers' tensors of minGRU, minLSTM and the SSM (core.modern), by checkpoint name."""
    H, N = cfg.hidden, cfg.state
    shapes: dict[str, tuple[int, ...]] = {}
    linears = {"mingru": ("z", "h"), "minlstm": ("f", "i", "h"), "ssm": ("in_proj", "gate")}[cfg.arch]
    for n in range(cfg.layers):
        d, p = cfg.input_size if n == 0 else H, f"rnn.l{n}."
        for name in linears:
            shapes |= {f"{p}{name}.weight": (H, d), f"{p}{name}.bias": (H,)}
        if cfg.arch == "ssm":
            shapes |= {f"{p}delta.weight": (H, H), f"{p}delta.bias": (H,), f"{p}B.weight": (N, H),
                       f"{p}C.weight": (N, H), f"{p}A_log": (H, N), f"{p}D": (H,)}  # fmt: skip
    return shapes


def _check_shapes(weights: dict, expected: dict, name: str) -> None:
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        what = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
        raise CheckpointError(f"{name} does not match its metadata: {what}")
    for k, shape in expected.items():
        if tuple(weights[k].shape) != shape:
            raise CheckpointError(
                f"{name} does not match its metadata: "
                f"{k} has shape {tuple(weights[k].shape)}, expected {shape}"
            )
        if not np.issubdtype(weights[k].dtype, np.floating) or not np.isfinite(weights[k]).all():
            raise CheckpointError(f"{name} is corrupt: {k} holds non-finite or non-float values")
