"""The HTTP API (`watch-docker serve` serves it): a door. Each route calls the core or runs a
flow of the same deployments the schedules run; no rule lives here."""
