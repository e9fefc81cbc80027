"""The Sirekap upstream: region codes, document shapes, consistency checks and a simulator.

Shared by the API and the monitor; imports neither of them.
"""
