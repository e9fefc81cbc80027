"""Datasets: a race loaded as it stood before its night, and the results that came later as events in time."""
