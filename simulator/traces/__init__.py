"""Trace loaders: Alibaba openb pod/node CSVs (11- and 5-column forms) and the Tiresias job CSV.

Strict by default: the first bad value raises `TraceError` naming file, line and column.
Lenient loaders skip bad rows and count them.
"""

from simulator.traces.errors import LoadReport, TraceError
from simulator.traces.openb import OpenbNode, OpenbPod, load_openb_nodes, load_openb_pods
from simulator.traces.tiresias import TiresiasJob, load_tiresias_jobs

__all__ = [
    "LoadReport",
    "OpenbNode",
    "OpenbPod",
    "TiresiasJob",
    "TraceError",
    "load_openb_nodes",
    "load_openb_pods",
    "load_tiresias_jobs",
]
