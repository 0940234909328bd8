"""Slack: the "Suggest reply" shortcut and ``/suggest`` on the Bolt async app.

Mounted by ``copilot serve`` at ``POST /slack/events`` when
``COPILOT_SLACK_SIGNING_SECRET`` and ``COPILOT_SLACK_BOT_TOKEN`` are set (or over
Socket Mode with ``COPILOT_SLACK_APP_TOKEN``). Setup: the README's Slack section
and ``connectors/slack/manifest.yaml``.
"""

from ._platform import missing_settings, platform
from ._verify import sign, signature_problem

__all__ = ["missing_settings", "platform", "sign", "signature_problem"]
