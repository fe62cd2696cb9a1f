"""Scheduling policies the simulator compares, in two families with their own registries:
fill/ (static fill experiment) and replay/ (time-based replay)."""
