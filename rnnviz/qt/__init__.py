"""The desktop app: everything that knows about Qt and pyqtgraph."""
