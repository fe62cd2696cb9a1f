"""What a serving run is configured with (docs/serving.md names the KEDA/KServe counterparts)."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.workloads.schema import parse_gpu


@dataclass(frozen=True)
class Autoscale:
    """Queue-length autoscaling, one service per model.

    - `target_queue`: desired replicas = ceil((queued + in service) / target_queue), the HPA
      formula KEDA feeds with a queue-length metric (KEDA `queueLength`/`targetValue`).
    - `interval_s`: how often desired replicas are computed (KEDA `pollingInterval`, 30 s default;
      10 s here, closer to Knative's KPA).
    - `cooldown_s`: a replica idle this long may be removed (KEDA `cooldownPeriod`, 300 s default;
      HPA scale-down stabilisation is also 300 s).
    - `min_replicas`/`max_replicas`: 0 allows scale-to-zero (KServe `minReplicas: 0`); a request
      to a service with no replica asks for one at once (the Knative activator).
    - `cold_start_s`: from placement to ready (image already on the node; model weights loaded
      into GPU memory). 30 s is our assumption for a Stable Diffusion checkpoint plus LoRAs.
    """

    target_queue: int = 2
    interval_s: float = 10.0
    cooldown_s: float = 300.0
    min_replicas: int = 0
    max_replicas: int = 16
    cold_start_s: float = 30.0

    def __post_init__(self) -> None:
        if self.target_queue < 1 or self.interval_s <= 0 or self.cooldown_s < 0:
            raise ValueError("autoscale: target_queue >= 1, interval_s > 0, cooldown_s >= 0")
        if not 0 <= self.min_replicas <= self.max_replicas or self.max_replicas < 1:
            raise ValueError("autoscale: need 0 <= min_replicas <= max_replicas, max >= 1")
        if self.cold_start_s < 0:
            raise ValueError("autoscale: cold_start_s must be >= 0")


@dataclass(frozen=True)
class ServingSpec:
    """The cluster and the replica shape: `nodes` x `gpus_per_node` GPUs of `gpu_model`;
    each replica asks `replica_gpu` (schema form: `milli:250`, `mig:2g.20gb`, `whole:1`)."""

    nodes: int
    gpus_per_node: int = 8
    gpu_model: str = "H100-80GB"
    replica_gpu: str = "milli:250"
    # an SD/SDXL pipeline with merged LoRAs needs ~10-16 GiB (simulator.workloads.genai): 16 GiB
    # lets four 250-milli replicas share an 80 GB card (4 x 20 GiB would not fit in 79.6 GiB)
    replica_gpu_memory_mib: int = 16 * 1024
    replica_cpu_milli: int = 4000
    replica_memory_mib: int = 16 * 1024
    mig_nodes: int = 0  # nodes whose GPUs are all in MIG mode (simulator.serving.sim)
    # static per-GPU MIG layouts of the MIG nodes' GPUs, node by node (simulator.capacity.
    # layouts); () = every MIG GPU holds the static layout 1g.10gb x 2 + 2g.20gb + 3g.40gb
    mig_layouts: tuple[tuple[tuple[str, int], ...], ...] = ()
    slo_wait_s: float = 10.0  # default queueing objective for requests without slo_ms

    def __post_init__(self) -> None:
        if self.nodes < 1 or self.gpus_per_node < 1:
            raise ValueError(f"serving cluster: need >= 1 node and GPU, got {self.nodes} nodes")
        if not 0 <= self.mig_nodes <= self.nodes:
            raise ValueError(f"mig_nodes must be 0..{self.nodes}, got {self.mig_nodes}")
        if self.mig_layouts and len(self.mig_layouts) != self.mig_nodes * self.gpus_per_node:
            raise ValueError(f"{len(self.mig_layouts)} MIG layouts for "
                             f"{self.mig_nodes * self.gpus_per_node} MIG GPUs")
        parse_gpu(self.replica_gpu, self.replica_gpu_memory_mib)
        if self.slo_wait_s <= 0:
            raise ValueError(f"SLO wait must be > 0 s, got {self.slo_wait_s}")
