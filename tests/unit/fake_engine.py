"""A fake of the Docker engine's API client, only the calls the updater makes, in the spirit of
docker-py's own fake engine: containers and images kept in memory as `inspect` shows them,
every call recorded, and any call made to fail."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any, Literal

from docker.errors import APIError, DockerException, NotFound

# What a container of an image does once started: its health check passes or fails at once,
# stays `starting` for good, or the process exits.
Behaviour = Literal["healthy", "unhealthy", "starting", "exits"]
# Calls that change nothing: left out of `changes()`.
_READS = ("inspect_container", "inspect_image", "containers", "logs")


@dataclass
class _Failure:
    method: str
    error: DockerException
    times: int


class FakeEngine:
    def __init__(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, str] = {}  # reference -> image id
        self.behaviour: dict[str, Behaviour] = {}  # image id -> at start
        self.by_id: dict[str, dict[str, Any]] = {}  # container id -> inspect result
        self.calls: list[tuple[str, ...]] = []
        self._failures: list[_Failure] = []
        self._ids = itertools.count(1)

    # -- set-up and checks --------------------------------------------------------------------

    def add_image(
        self, reference: str, *, healthcheck: bool = False, behaviour: Behaviour = "healthy"
    ) -> str:
        """An image, tagged `reference` (the tag moves to it, as a pull does); returns its id."""
        image_id = f"sha256:{next(self._ids):064x}"
        health = {"Test": ["CMD", "true"], "Interval": 10**9} if healthcheck else None
        self.images[image_id] = {
            "Id": image_id,
            "Config": {"Cmd": ["sleep", "3600"], "Env": ["PATH=/bin"], "Healthcheck": health},
        }
        self.tags[reference] = image_id
        self.behaviour[image_id] = behaviour
        return image_id

    def run(self, name: str, reference: str, *, network_mode: str = "bridge") -> str:
        """A running container as `docker run --name NAME REFERENCE` leaves it; returns its id."""
        body = {"Image": reference, "HostConfig": {"NetworkMode": network_mode}}
        container_id = self.create_container_from_config(body, name=name)["Id"]
        self.start(container_id)
        self.calls.clear()
        return container_id

    def fail(self, method: str, error: DockerException | None = None, *, times: int = 1) -> None:
        """The next `times` calls of `method` raise `error` (by default the engine's 500)."""
        self._failures.append(
            _Failure(method, error or APIError(f"{method} refused by the fake engine"), times)
        )

    def changes(self) -> list[tuple[str, ...]]:
        """The calls that change the engine, in order."""
        return [call for call in self.calls if call[0] not in _READS]

    def named(self, name: str) -> dict[str, Any] | None:
        return next((c for c in self.by_id.values() if c["Name"] == f"/{name}"), None)

    def names(self) -> list[str]:
        return sorted(c["Name"].lstrip("/") for c in self.by_id.values())

    # -- the API client's calls ---------------------------------------------------------------

    def inspect_container(self, container: str) -> dict[str, Any]:
        self._call("inspect_container", container)
        return copy.deepcopy(self._find(container))

    def containers(
        self, all: bool = False, filters: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        self._call("containers")
        name_part = (filters or {}).get("name", "")
        return [
            {
                "Id": c["Id"],
                "Names": [c["Name"]],
                "Image": c["Config"]["Image"],
                "Labels": c["Config"].get("Labels") or {},
                "HostConfig": {"NetworkMode": c["HostConfig"].get("NetworkMode", "")},
            }
            for c in self.by_id.values()
            if name_part in c["Name"] and (all or c["State"]["Running"])
        ]

    def inspect_image(self, image: str) -> dict[str, Any]:
        self._call("inspect_image", image)
        image_id = self.tags.get(image, image)
        if image_id not in self.images:
            raise NotFound(f"No such image: {image}")
        return copy.deepcopy(self.images[image_id])

    def create_container_from_config(
        self, config: dict[str, Any], name: str | None = None
    ) -> dict[str, Any]:
        self._call("create", name or "")
        if name and self.named(name) is not None:
            raise APIError(f'Conflict. The container name "/{name}" is already in use')
        image_id = self.tags.get(config["Image"])
        if image_id is None:
            raise NotFound(f"No such image: {config['Image']}")
        container_id = f"{next(self._ids):064x}"
        image_config = self.images[image_id]["Config"]
        self.by_id[container_id] = {
            "Id": container_id,
            "Name": f"/{name or container_id[:12]}",
            "Image": image_id,
            "Config": {
                **{k: v for k, v in config.items() if k not in ("HostConfig", "NetworkingConfig")},
                "Healthcheck": config.get("Healthcheck") or image_config["Healthcheck"],
            },
            "HostConfig": copy.deepcopy(config.get("HostConfig") or {}),
            "NetworkSettings": {"Networks": {}},
            "Mounts": [],
            "RestartCount": 0,
            "State": {"Running": False, "Restarting": False, "ExitCode": 0},
        }
        return {"Id": container_id, "Warnings": []}

    def start(self, container: str) -> None:
        found = self._find(container)
        self._call("start", found["Id"])
        behaviour = self.behaviour[found["Image"]]
        state: dict[str, Any] = {"Running": behaviour != "exits", "Restarting": False}
        state["ExitCode"] = 1 if behaviour == "exits" else 0
        if found["Config"].get("Healthcheck") and behaviour != "exits":
            state["Health"] = {"Status": behaviour}
        found["State"] = state

    def stop(self, container: str, timeout: int | None = None) -> None:
        found = self._find(container)
        self._call("stop", found["Id"])
        found["State"] = {"Running": False, "Restarting": False, "ExitCode": 0}

    def rename(self, container: str, name: str) -> None:
        found = self._find(container)
        self._call("rename", found["Id"], name)
        if self.named(name) is not None:
            raise APIError(f'Conflict. The container name "/{name}" is already in use')
        found["Name"] = f"/{name}"

    def remove_container(self, container: str, v: bool = False, force: bool = False) -> None:
        found = self._find(container)
        self._call("remove_container", found["Id"])
        if found["State"]["Running"] and not force:
            raise APIError("You cannot remove a running container")
        del self.by_id[found["Id"]]

    def remove_image(self, image: str) -> None:
        self._call("remove_image", image)
        if any(c["Image"] == image for c in self.by_id.values()):
            raise APIError(f"conflict: unable to delete {image[:19]} (image is being used)")
        del self.images[image]

    def logs(self, container: str, **kwargs: Any) -> bytes:
        self._call("logs", self._find(container)["Id"])
        return b"starting\nsomething went wrong\n"

    # -- helpers ------------------------------------------------------------------------------

    def _call(self, method: str, *args: str) -> None:
        """Records the call, then raises the failure it was told to, if any."""
        self.calls.append((method, *args))
        for failure in self._failures:
            if failure.method == method and failure.times > 0:
                failure.times -= 1
                raise failure.error

    def _find(self, ref: str) -> dict[str, Any]:
        """By id, name or id prefix, as the engine resolves a reference."""
        if ref in self.by_id:
            return self.by_id[ref]
        found = self.named(ref) or next(
            (c for i, c in self.by_id.items() if len(ref) >= 12 and i.startswith(ref)), None
        )
        if found is None:
            raise NotFound(f"No such container: {ref}")
        return found
