"""The Compose CLI's output followed for a client: `logs` streams a project's `compose logs
-f` to the CLI or a WebSocket, and ends the process when the client goes. The rules and the
operations are the core's (`watchdocker.stacks`)."""
