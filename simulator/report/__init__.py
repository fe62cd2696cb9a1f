"""Reports of simulator runs: the only place that writes JSON/CSV/HTML files or draws charts.

Entry point for any producer: build a `document.Report` (or use `from_replay.replay_report`)
and call `document.write_report_dir(folder, report)`."""
