"""Tools of the marketing assistant: datasets, the shop schema, embeddings, customer portraits and more.

Each module is one concept and takes its dependencies (``agent.settings.Settings``, stores, models)
as arguments, so the agent, the CLI and the tests wire them the same way.
"""
