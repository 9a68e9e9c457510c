"""campaign-agent: the plan loop, LLM backends, plan state and settings."""

__version__ = "0.1.0"
