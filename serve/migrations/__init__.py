"""Alembic migrations of the API database (:mod:`serve.database`); :func:`serve.database.migrate` runs them.

Revision ``0001`` is the schema of the previous release (what its ``create_all`` made); each later revision is one
change of the models. Add one with ``alembic -c serve/migrations/alembic.ini revision --autogenerate`` (README).
"""
