"""Database access: peewee models, schema migrations, queries."""
