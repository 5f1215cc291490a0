"""The update domain: what to update (`plan`), how a container is made again (`recreate`), the
recovery journal and its plans (`journal`, `rollback`), and the steps on the engine (`pull`,
`updater`). Prefect-free; the flows and tasks call it."""
