"""The GraphQL schema: strawberry types kept apart from the ORM models, resolved through per-request loaders."""
