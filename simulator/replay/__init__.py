"""Time-based replay: arrivals and departures through the event engine, one policy per run."""
