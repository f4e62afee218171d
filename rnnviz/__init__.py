"""rnnviz: see inside recurrent neural networks.

From Python (numpy only, unless training):

    import rnnviz
    m = rnnviz.load("story.safetensors")      # or rnnviz.train(corpus="builtin:story", steps=500)
    tr = m.trace("The keeper counted", target="s")
    m.generate("The keeper", length=200, temperature=0.8, seed=1)
    m.patch(clean="The keeper counted", corrupt="The sailor counted")
    s = rnnviz.open_session("run.rnnviz")

See rnnviz.api.
"""

__version__ = "0.1.0"

from rnnviz.api import Model, Session, import_model, load, open_session, train  # noqa: E402

__all__ = ["Model", "Session", "__version__", "import_model", "load", "open_session", "train"]
