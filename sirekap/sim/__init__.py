"""A Sirekap simulator: the real URL layout and document shapes, a scenario clock and faults on command.

`pantau sim --scenario belu-2020|national` serves it (see `cli.py`); `testing.running_simulator` runs it inside a
test. Data is served on one listener, the admin API (`admin.py`) on another, so an outage can close the data
listener (clients see a refused connection) while the simulator stays controllable.
"""
