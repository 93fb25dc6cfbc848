"""The optional LLM path: an OpenAI-compatible client, generated answers, and their verification."""
