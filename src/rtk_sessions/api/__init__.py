"""HTTP edge: parse, call the domain, wrap in the contract's envelope. No SQL, no math."""
