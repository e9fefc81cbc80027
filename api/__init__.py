"""Pantau's GraphQL API: regions, TPS, paslon and tallies from every source, side by side."""
