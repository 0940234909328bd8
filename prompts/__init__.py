"""Versioned prompt templates (data files) and their loader."""

from ._loader import TEMPLATE_DIR, ChatTemplate, PromptTemplate, load_chat_prompt, load_prompt

__all__ = ["TEMPLATE_DIR", "ChatTemplate", "PromptTemplate", "load_chat_prompt", "load_prompt"]
