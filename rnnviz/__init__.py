"""rnnviz: see inside recurrent neural networks."""

__version__ = "0.1.0"
