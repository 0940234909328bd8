"""Versioned prompt templates (data files) and their loader."""

from ._loader import TEMPLATE_DIR, PromptTemplate, load_prompt

__all__ = ["TEMPLATE_DIR", "PromptTemplate", "load_prompt"]
