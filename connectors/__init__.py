"""Platform connectors (Slack, WeCom, voice).

Each connector turns platform events into ``Conversation`` updates and Suggest
presses and renders results back. None ships in this release yet: the engine,
CLI and audit log come first (see the README's roadmap).
"""

__all__: list[str] = []
