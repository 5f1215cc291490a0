"""Docker Compose stacks (next: issue 12): a door that calls the core and runs the flows."""
