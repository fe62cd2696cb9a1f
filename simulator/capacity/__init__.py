"""Capacity planning: the smallest cluster meeting request-wait SLOs, per policy, by a search
over simulated serving runs (docs/capacity.md)."""
