"""The chat UI (Gradio), mounted by the API at "/": ``ui.app.mount(app, state)``."""
