"""Use-cases: what the API, the CLI and the jobs do. No HTTP here; callers own the transaction."""
