"""Local control plane for e2e tests and `tessera dev-cluster`.

etcd, kube-apiserver, Tessera and kube-scheduler on loopback ports, built from Go modules.
"""
