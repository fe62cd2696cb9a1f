"""Fill-experiment policies (`tessera simulate fgd-fill`): one class per file, registered in
registry.py. Each places one pod of a static trace onto a FillCluster."""
