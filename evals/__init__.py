"""Prompt regression suites: runner, assertion types, reports.

Not shipped in this release yet (see the README's roadmap); evals will drive
``copilot.Copilot`` exactly as a connector does.
"""

__all__: list[str] = []
