"""Which engine a run uses, and settings read from an env file (for ``eval compare``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from copilot import Copilot, Settings, make_chat_model
from copilot.errors import ConfigError, InputError

from ._llm import CachedChatModel, Judge
from ._runner import RunConfig

if TYPE_CHECKING:
    from audit import AuditStore
    from knowledge import AtomStore

__all__ = ["ENGINES", "EvalSettings", "run_config", "settings_from_env_file"]

ENGINES = ("grounded", "llm")
# Keys an env file may hold that are for the eval run itself, not the engine.
EVAL_KEYS = {"COPILOT_EVAL_KB": "kb"}


class EvalSettings:
    """Settings for one side of a comparison, plus eval-only keys (``COPILOT_EVAL_KB``)."""

    def __init__(self, settings: Settings, kb: Path | None = None, name: str = "") -> None:
        self.settings = settings
        self.kb = kb
        self.name = name


def settings_from_env_file(path: Path, base: Settings) -> EvalSettings:
    """``base`` overridden by every ``COPILOT_*`` line of an env file. Unknown names are
    errors (a typo must not silently compare two identical configurations)."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise InputError(f"{path}: no such env file; write COPILOT_* lines, e.g. COPILOT_LLM_MODEL=...")
    values = dotenv_values(path, encoding="utf-8")
    known = set(Settings.model_fields)
    update: dict[str, object] = {}
    kb: Path | None = None
    for key, value in values.items():
        if key in EVAL_KEYS:
            kb = (path.parent / (value or "")).resolve()
            continue
        name = key.removeprefix("COPILOT_").lower()
        if not key.startswith("COPILOT_") or name not in known:
            raise InputError(f"{path}: {key} is not a COPILOT_* setting; see the README's settings table")
        update[name] = value
    try:
        settings = Settings.model_validate({**base.model_dump(), **update})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(f"{path}: invalid {first['loc'][0]}: {first['msg']}") from None
    if kb is not None and not kb.is_dir():
        raise InputError(f"{path}: COPILOT_EVAL_KB {kb} is not a folder")
    return EvalSettings(settings, kb, path.name)


def run_config(
    settings: Settings,
    engine: str | None,
    *,
    repeat: int = 1,
    concurrency: int = 4,
    use_cache: bool = True,
    label: str = "",
) -> RunConfig:
    """The run's engine (default: ``llm`` when a model is configured, else ``grounded``).

    ``grounded`` always works offline, even with a model configured; ``llm`` needs
    ``COPILOT_LLM_BASE_URL``. Any configured model also judges ``llm_rubric``
    assertions. Model answers go through the on-disk cache unless ``use_cache`` is off.
    """
    chosen = engine or ("llm" if settings.llm_base_url else "grounded")
    if chosen not in ENGINES:
        raise InputError(f"unknown engine {chosen!r}; use one of {', '.join(ENGINES)}")
    if chosen == "llm" and not settings.llm_base_url:
        raise ConfigError(
            "--engine llm needs a model: set COPILOT_LLM_BASE_URL and COPILOT_LLM_MODEL "
            "(or run with --engine grounded)"
        )
    base = make_chat_model(settings)
    folder, endpoint = settings.home / "eval-cache" / "model", settings.llm_base_url or ""
    cache = None if base is None else CachedChatModel(base, folder, enabled=use_cache, endpoint=endpoint)
    notices = []
    if cache is None:
        notices.append("llm_rubric assertions are skipped: no model configured (COPILOT_LLM_BASE_URL)")
    elif not use_cache:
        notices.append("--no-cache: every model answer was asked afresh and not stored")
    engine_settings = settings if chosen == "llm" else settings.model_copy(update={"llm_base_url": None})

    def make_engine(run_settings: Settings, store: AtomStore, audit: AuditStore, today: date) -> Copilot:
        model = cache if chosen == "llm" else None
        merged = run_settings.model_copy(update={"llm_base_url": engine_settings.llm_base_url})
        return Copilot(merged, store, audit, today=lambda: today, chat_model=model)

    return RunConfig(
        settings=settings,
        engine=chosen,
        repeat=repeat,
        concurrency=concurrency,
        label=label,
        model=settings.llm_model if chosen == "llm" else "",
        make_engine=make_engine,
        judge=Judge(cache) if cache is not None else None,
        cache=cache,
        notices=notices,
    )
