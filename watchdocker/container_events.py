"""Which changes of a container the status stream tells: the Docker events it follows and the
message type each becomes."""

from __future__ import annotations

# Docker's `Action` of a container event -> the stream's message type.
_ACTIONS = {
    "create": "created",
    "start": "started",
    "stop": "stopped",
    "die": "died",
    "destroy": "destroyed",
}
HEALTH = "health"
# Sent to the engine as a filter, so that it sends no other events (exec_*, attach, top...).
FOLLOWED_ACTIONS = [*_ACTIONS, "health_status"]


def change_type(action: str) -> str | None:
    """The message type of a container event's action, None for one the stream does not tell.
    Health events come as `health_status: healthy`."""
    if action.startswith("health_status"):
        return HEALTH
    return _ACTIONS.get(action)


def health_of(action: str) -> str:
    """`healthy` of `health_status: healthy`."""
    return action.partition(":")[2].strip()
