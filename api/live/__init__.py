"""Live updates: changes announced across processes, and delivered to subscribers coalesced per region."""
