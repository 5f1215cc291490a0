"""The API's routes, a module per group of the seed's router (§5.1)."""
