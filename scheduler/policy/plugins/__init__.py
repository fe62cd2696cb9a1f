"""Filter and score plugins: one class per file, registered in `scheduler.policy.registry`."""
