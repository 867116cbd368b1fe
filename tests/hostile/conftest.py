"""Fixtures of the hostile-input tests: ``own_database_url`` and ``quiet_server`` (a server of
their own, on a database of their own) live in tests/conftest.py, shared with tests/reliability."""
