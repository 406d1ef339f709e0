"""Alembic migrations: the only place the schema is created, on SQLite and PostgreSQL alike."""
