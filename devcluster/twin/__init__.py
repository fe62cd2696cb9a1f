"""The digital twin: replay a trace slice on the real control plane through a real scheduler
(Tessera, kube-scheduler, Volcano) with KWOK running the pods, and compare with the simulator."""
