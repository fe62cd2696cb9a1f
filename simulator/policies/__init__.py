"""Scheduling policies the simulator compares (one class per file, registered in registry.py)."""
