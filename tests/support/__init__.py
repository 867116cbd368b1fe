"""Test tooling: impaired networks (netem), fake ingestion, call analysis, webrtc-internals dumps."""
