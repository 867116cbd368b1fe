"""The external shapes, exactly as the contract names them.

- ``common``: the success and error envelopes, paging, ``contract_error`` (a broken rule: 400);
- ``query``: the query parameters of every route, as models;
- ``sessions``, ``meetings``: request bodies and responses of the Sessions, Meetings and Apps
  APIs, as the official SDK models (``cloudflare`` 5.9.0) name and type them;
- ``ingest``: the ingestion batch and its answer (ours);
- ``params``: the parsing rules the query models apply; ``views``: rows to response bodies.
"""
