"""The HTTP API's routes (next: issue 10). A door: each route calls the core or runs a flow,
never holds a rule of its own."""
