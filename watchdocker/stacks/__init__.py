"""Compose projects (stacks): the rules, without the Compose CLI — which names and paths are
allowed, how projects are found from container labels and folders, and how they stand."""
