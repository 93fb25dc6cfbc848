"""report-rag: grounded, cited question answering over one report."""

__version__ = "0.1.0"
