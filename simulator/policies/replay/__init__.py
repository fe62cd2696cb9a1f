"""Time-replay policies (`tessera simulate replay|compare`): one class per file (Volcano's model
in its own folder), registered in registry.py. Each implements simulator.replay.protocol."""
