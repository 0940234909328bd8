"""The one settings object. Nothing else in Sales Copilot reads ``os.environ``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Settings from ``COPILOT_*`` environment variables or a ``.env`` file.

    Every pluggable part has an embedded default; the scale-out option is chosen
    by setting its variable (``COPILOT_CHROMA_URL``, ``COPILOT_DATABASE_URL``,
    ``COPILOT_LLM_BASE_URL``).
    """

    model_config = SettingsConfigDict(
        env_prefix="COPILOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    home: Path = Field(default=Path("~/.copilot"), description="Folder holding all state.")
    # Vector store: embedded Chroma under home unless a Chroma server URL is given.
    chroma_url: str | None = None
    collection: str = "atoms"
    # Embeddings: the bundled bilingual model. One math thread per press: on a busy
    # 2-core machine more threads made one query 130-220 ms instead of 3 ms (measured).
    # 0 = one per core.
    embedding_threads: int = Field(default=1, ge=0, le=64)
    # Presses side by side: CPU turns (retrieval, guard) run on this many lanes in
    # arrival order (0 = one per core); beyond max_waiting_presses a press is
    # refused as busy at once instead of queueing.
    press_lanes: int = Field(default=0, ge=0, le=64)
    max_waiting_presses: int = Field(default=64, ge=1, le=10_000)
    # Processes that embed large batches (ingest); 0 = one per core.
    ingest_workers: int = Field(default=0, ge=0, le=64)
    # Where the precompiled tokenizer and memory-mapped weights live (default home/cache);
    # several homes on one machine may share one.
    cache_dir: Path | None = None
    # Audit + conversation state: SQLite under home unless a database URL is given.
    database_url: str | None = None
    # Retrieval and policy.
    # 8 feeds the reply agent's 6 candidates; 12 made a 10k-atom store fall back to
    # Chroma's slow filtered search far more often (p95 147 ms vs 51 ms, measured).
    retrieve_k: int = Field(default=8, ge=3, le=100)
    max_discount_percent: float = Field(
        default=15.0, ge=0, le=100, description="Largest discount a rep may offer without approval."
    )
    discount_policy_basis: str = Field(
        default="《价格授权制度》", min_length=1, description="Cited when a discount is blocked."
    )
    # LLM engine: off unless a base URL is given (then replies come from the model,
    # checked for grounding and compliance, with the grounded engine as fallback).
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible API base URL.")
    llm_model: str = Field(default="gpt-4o-mini", min_length=1)
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(
        default=2.5, gt=0, le=60, description="The model's share of one Suggest press, retries included."
    )
    llm_structured_output: Literal["json_schema", "function_calling", "json_mode"] = Field(
        default="json_schema",
        description="How JSON is asked for: response_format json_schema, a tool call, or json_object.",
    )
    log_level: str = "WARNING"
    # Key for the people's pseudonyms in stored text; default: COPILOT_HOME/pseudonym.key.
    pseudonym_key: SecretStr | None = None  # at least 16 characters (checked where used, never echoed)
    # Decision audit log.
    audit_required: bool = Field(
        default=True,
        description="Refuse to show a suggestion that could not be logged; false only for trials (logged).",
    )
    action_window_hours: float = Field(
        default=24.0, gt=0, le=24 * 90, description="After this, a set without a final action is `ignored`."
    )
    audit_sweep_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="How often `copilot serve` records `ignored` for sets past the window (0: never).",
    )
    audit_signing_key: SecretStr | None = Field(
        default=None, description="Ed25519 private key (PEM or 64 hex) signing exported checkpoints."
    )
    teams: dict[str, list[str]] = Field(
        default_factory=dict, description='Team -> rep ids for reports, e.g. {"east": ["U1", "U2"]}.'
    )
    # Slack (connectors/slack): mounted at /slack/events when the signing secret and
    # bot token are set; the app token is for Socket Mode (copilot serve --slack-socket-mode).
    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_socket_mode: bool = Field(
        default=False,
        description="Receive Slack events over Socket Mode (copilot serve --slack-socket-mode).",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", description="Base URL of every Slack Web API call."
    )
    slack_customer_users: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Slack user ids always treated as customers (comma-separated)."
    )
    # Optional: reps connect their own Slack account (/suggest connect, OAuth v2 user scope
    # chat:write) so Send posts as them; without these, Send posts as the bot naming the rep.
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_reply_window_s: int = Field(
        default=900,
        ge=0,
        le=86_400,
        description="A rep's own message in the thread this long after a suggestion is its rep_action.",
    )
    # WeCom (企业微信) self-built app: mounted by `copilot serve` when corp id, token,
    # AES key and secret are set; the agent id is needed to send messages.
    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = Field(
        default=None, description="The app's 43-character EncodingAESKey (callback settings)."
    )
    wecom_api_url: str = Field(
        default="https://qyapi.weixin.qq.com/cgi-bin/", description="Base URL of the WeCom server API."
    )

    @field_validator("home", "cache_dir")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("slack_customer_users", mode="before")
    @classmethod
    def _split_users(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL (COPILOT_SLACK_API_URL)")
        return value if value.endswith("/") else value + "/"

    @property
    def chroma_path(self) -> Path:
        return self.home / "chroma"

    @property
    def cache_path(self) -> Path:
        """Precompiled model files (rebuilt from the installed packages when missing)."""
        return self.cache_dir or self.home / "cache"

    @property
    def audit_path(self) -> Path:
        return self.home / "audit.sqlite3"

    @property
    def state_path(self) -> Path:
        return self.home / "state.sqlite3"
