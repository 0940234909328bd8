"""Platform connectors (Slack, WeCom) and what they share in ``copilot serve``.

Each connector turns platform events into ``Conversation`` updates and Suggest
presses and renders results back; how one plugs into the server is documented in
``connectors/_server.py``. ``StateStore`` keeps per-chat state and the claims that
make platform retries idempotent across workers.
"""

from ._server import Platform, ServerState
from ._state import ChatState, ShownSet, StateStore, open_state_store

__all__ = ["ChatState", "Platform", "ServerState", "ShownSet", "StateStore", "open_state_store"]
