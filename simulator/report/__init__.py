"""Reports of replay runs: the only place that writes JSON/CSV/HTML files or draws plots."""
