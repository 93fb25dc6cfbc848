"""The default embedding model (multilingual-e5-small), provisioned offline from PyPI packages by `rag provision`."""
