"""The Compose CLI as a door: `client` runs it, `stacks` lists, creates, deletes and acts on
projects with the rules of `watchdocker.stacks`."""
