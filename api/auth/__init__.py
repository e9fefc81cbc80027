"""Bearer tokens and roles."""
