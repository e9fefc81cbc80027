"""Observability shared by both services (HTTP request metrics); imports neither service."""
