"""Tallies: the one writer of every source's numbers, their rollups and their stored findings."""
