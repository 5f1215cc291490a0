"""The Prefect shell around the flows: the deployments `serve` runs (`specs`, `serving`, which
skips the runs `missed_runs` picks), the embedded Prefect server and its environment
(`prefect_env`, `server_guard`, `embedded_server`, `server_services`, `server_retention`;
`quiet_uvicorn` for it and serve's API), and serve's watchers (`outage_watch`, whose rules are
`server_health`'s, and `expired_approvals`)."""
