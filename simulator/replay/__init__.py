"""Time-based replay: arrivals and departures through C1's engine, one policy per run."""
