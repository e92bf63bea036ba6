"""Alembic's migration scripts: the only owner of Keyward's schema."""
