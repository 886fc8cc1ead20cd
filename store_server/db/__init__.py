"""The database: engine and sessions, models, Alembic migrations."""
