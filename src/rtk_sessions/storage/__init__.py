"""Persistence: engine, tables and the only dialect-aware code."""
