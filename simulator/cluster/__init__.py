"""The simulated cluster: the policy core's `ClusterState` for tessera, device-plugin counters
for the counter-based baselines (Volcano, kube-default)."""
