import gc
import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The app's settings (QSettings) in a file of the tests' own: never the user's; the tour already seen.
os.environ.setdefault(
    "RNNVIZ_SETTINGS", os.path.join(tempfile.mkdtemp(prefix="rnnviz-settings-"), "rnnviz.ini")
)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from rnnviz.core.corpus import Corpus  # noqa: E402
from rnnviz.core.model import CharRNN, ModelConfig  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def garbage_on_the_main_thread():
    """As the app does (rnnviz.qt.app.collect_on_gui_thread): no automatic collection, which could
    run on a worker thread and delete Qt objects there; the tests collect on the main thread."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def fresh_settings():
    """Each test starts from no remembered settings (layout, recent files, looks), the tour seen."""
    from rnnviz.qt.settings import app_settings, put

    app_settings().clear()
    put("tour/done", True)
    put("ask/unsaved", False)  # closing a window that trained would ask to save (tests/test_qt_tool.py)
    yield
    collect_as_python_would()  # on the main thread (see garbage_on_the_main_thread)


def collect_as_python_would() -> None:
    """The generations Python itself would collect now, by its thresholds (as pyqtgraph's
    GarbageCollector does in the app): a full collection after every test cost minutes."""
    (c0, c1, c2), (t0, t1, t2) = gc.get_count(), gc.get_threshold()
    if c0 > t0:
        gc.collect(2 if c1 > t1 and c2 > t2 else 1 if c1 > t1 else 0)


TEXT = "hello world. hello there, world! (nested (brackets)) help the helper home.\n" * 6


@pytest.fixture
def corpus() -> Corpus:
    return Corpus.from_text(TEXT, "char", "test")


def make_model(arch="lstm", layers=2, hidden=8, vocab=12, input="onehot", seed=0, nl="tanh"):
    torch.manual_seed(seed)
    cfg = ModelConfig(
        vocab_size=vocab,
        arch=arch,
        layers=layers,
        hidden=hidden,
        input=input,
        embed_dim=5,
        nonlinearity=nl,
    )
    return CharRNN(cfg)


def rng_ids(n, vocab, seed=0):
    return np.random.default_rng(seed).integers(0, vocab, n)
