"""Trace loaders: Alibaba openb pod/node CSVs (11- and 5-column forms), the Tiresias job CSV,
the DLRM v2025 instance CSV and the GenAI v2026 LoRA request CSV.

Strict by default: the first bad value raises `TraceError` naming file, line and column.
Lenient loaders skip bad rows and count them.
"""

from simulator.traces.dlrm import DlrmInstance, load_dlrm_instances
from simulator.traces.errors import LoadReport, TraceError
from simulator.traces.genai import LoraRequest, load_lora_requests
from simulator.traces.openb import OpenbNode, OpenbPod, load_openb_nodes, load_openb_pods
from simulator.traces.tiresias import TiresiasJob, load_tiresias_jobs

__all__ = [
    "DlrmInstance",
    "LoadReport",
    "LoraRequest",
    "OpenbNode",
    "OpenbPod",
    "TiresiasJob",
    "TraceError",
    "load_dlrm_instances",
    "load_lora_requests",
    "load_openb_nodes",
    "load_openb_pods",
    "load_tiresias_jobs",
]
