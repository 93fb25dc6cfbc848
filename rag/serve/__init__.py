"""The HTTP service: the FastAPI app over one live Pipeline, its edge (keys, limits, logs), the index watcher
and `rag serve`. The only part of rag that mounts the chat UI (``ui``)."""
