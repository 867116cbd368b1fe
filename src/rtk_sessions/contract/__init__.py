"""The external shapes: query parsing and response bodies exactly as the contract names them."""
