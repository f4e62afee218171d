"""The rnnviz engine: corpora, models, training, traces and checkpoints.

Pure numpy + torch. Nothing in this package may import Qt (tests/test_boundaries.py checks).
"""
