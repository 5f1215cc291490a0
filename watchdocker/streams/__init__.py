"""Live WebSocket streams of runs, logs and events (next: issue 13): a door, no rules."""
