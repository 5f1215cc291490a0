"""Compose projects (stacks): which names and paths are allowed (`names`), how projects are
found from container labels and folders and how they stand (`projects`), the Compose CLI
(`compose_cli`) and the operations on projects through it (`operations`)."""
