"""Pantau's monitor: probes Sirekap, keeps incident windows and exports Prometheus metrics.

It imports the shared `sirekap` package, never the API.
"""
