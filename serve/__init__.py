"""Embedded LLM server layer: weight conversion, chat template and the vLLM process manager."""
