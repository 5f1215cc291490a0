"""The Prefect shell around the flows: the deployments `serve` runs (`specs`, `serving`,
`missed_runs`), the embedded Prefect server and its environment (`prefect_env`, `server_guard`,
`embedded_server`, `server_services`, `server_retention`), and serve's watchers (`outage_watch`
with its rules in `server_health`, `expired_approvals`)."""
