"""Recreating a container on a new image with the same configuration, as `docker compose up`
and Watchtower do: plain functions over `docker inspect` dicts, and one engine call sequence.

The rule: what the user set is kept; what came from the OLD image's defaults is left unset so
that the engine fills it from the NEW image at create (its `merge` of image config into
container config). The two are told apart by comparing the container's Config with the old
image's Config, field by field (and per variable / label / port / volume for the maps).
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from typing import Any

import docker

# Healthcheck fields the engine merges one by one from the image (daemon/commit.go `merge`).
_HEALTHCHECK_FIELDS = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")
# Scalar Config fields the engine takes from the image when the container leaves them empty.
_IMAGE_SCALARS = ("User", "WorkingDir", "StopSignal")
# Network modes without endpoints of their own to configure or to connect more networks to.
_NO_ENDPOINT_MODES = ("host", "none")


@dataclass(frozen=True)
class NetworkAttachment:
    network: str
    """The network's name."""
    endpoint_config: dict[str, Any]
    """Engine EndpointSettings for POST /networks/{id}/connect: Aliases, IPAMConfig, Links,
    DriverOpts (only those that are set)."""


@dataclass(frozen=True)
class RecreateSpec:
    name: str
    """The container name, without the leading '/'."""
    body: dict[str, Any]
    """The JSON body of POST /containers/create in the engine's schema: Config fields,
    "HostConfig" and "NetworkingConfig" (one endpoint at most: API 1.41 takes one at create)."""
    extra_networks: list[NetworkAttachment] = field(default_factory=list)
    """Connected after create, before start."""


def build_recreate_spec(
    container: dict[str, Any],
    old_image: dict[str, Any],
    new_image: dict[str, Any],
    *,
    image: str,
    network_container: str | None = None,
) -> RecreateSpec:
    """The create request for a container like `container` on the image `image`.

    `container`: `inspect_container` of the old container; `old_image` / `new_image`:
    `inspect_image` of its image and of the new one (only checked to be one: the engine
    applies the new image's defaults itself, at create). `image`: the reference text for
    Config.Image. `network_container`: for a container that ran with NetworkMode
    `container:<X>`, the id of the (new) container to join instead.
    Raises ValueError when the dicts are not inspect results or the arguments do not fit.
    """
    for what, data, key in (
        ("container", container, "HostConfig"),
        ("old_image", old_image, "Config"),
        ("new_image", new_image, "Config"),
    ):
        if not isinstance(data, dict) or key not in data:
            raise ValueError(f"{what} is not an inspect result (no {key})")
    if not isinstance(container.get("Config"), dict):
        raise ValueError("container is not an inspect result (no Config)")
    if not image:
        raise ValueError("image must name the new container's image")
    container = copy.deepcopy(container)
    old_cfg: dict[str, Any] = old_image.get("Config") or {}

    host = _host_config(container, network_container)
    mode = str(host.get("NetworkMode") or "")
    body = _config(container, old_cfg, image, joins_container=mode.startswith("container:"))
    body["HostConfig"] = host
    primary, extras = _networks(container, host)
    body["NetworkingConfig"] = {"EndpointsConfig": primary}
    return RecreateSpec(
        name=str(container.get("Name") or "").lstrip("/"),
        body=body,
        extra_networks=extras,
    )


def create_from_spec(api: docker.APIClient, spec: RecreateSpec) -> str:
    """Creates the container (not started) and connects its extra networks; returns its id.

    Raises docker.errors.NotFound, creating nothing, when an extra network is gone. On a
    failure after create, removes what it created and re-raises.
    """
    # The engine accepts connecting a container that is not running to a network that does
    # not exist (it fails only at start): check first, before anything is created.
    for attachment in spec.extra_networks:
        api.inspect_network(attachment.network)
    created = api.create_container_from_config(spec.body, name=spec.name or None)
    container_id: str = created["Id"]
    try:
        for attachment in spec.extra_networks:
            api.connect_container_to_network(
                container_id, attachment.network, **_connect_args(attachment.endpoint_config)
            )
    except BaseException:
        # v=True removes only the volumes the engine made anonymously for THIS container (the
        # new image's VOLUMEs); volumes carried over from the old one are mounted by name, and
        # the engine never removes named mounts with the container.
        with contextlib.suppress(Exception):
            api.remove_container(container_id, force=True, v=True)
        raise
    return container_id


# --- Config ----------------------------------------------------------------------------------


def _config(
    container: dict[str, Any], old: dict[str, Any], image: str, *, joins_container: bool
) -> dict[str, Any]:
    """Config fields of the create body: the container's, minus the old image's defaults."""
    cfg: dict[str, Any] = dict(container["Config"])
    body: dict[str, Any] = {}
    # Everything else in Config (Tty, OpenStdin, Attach*, StopTimeout, Domainname, MacAddress,
    # Shell, NetworkDisabled...) is the user's: the engine takes none of it from the image.
    handled = {
        "Image", "Hostname", "Env", "Labels", "ExposedPorts", "Volumes", "Healthcheck",
        "Cmd", "Entrypoint", "ArgsEscaped", *_IMAGE_SCALARS,
    }  # fmt: skip
    body.update({k: v for k, v in cfg.items() if k not in handled})
    body["Image"] = image

    # The engine sets the short id when no hostname was asked for; a kept short id would name
    # the new container after the old one.
    hostname = cfg.get("Hostname") or ""
    if hostname and hostname != str(container.get("Id", ""))[:12]:
        body["Hostname"] = hostname
    if joins_container:
        # The engine copies both from the joined container at start, and refuses a Hostname
        # ("conflicting options: hostname and the network mode").
        body.pop("Hostname", None)
        body.pop("Domainname", None)

    for key in _IMAGE_SCALARS:
        value = cfg.get(key)
        if value and value != old.get(key):
            body[key] = value

    old_env = set(old.get("Env") or [])
    env = [e for e in cfg.get("Env") or [] if e not in old_env]
    if env:
        body["Env"] = env
    old_labels: dict[str, str] = old.get("Labels") or {}
    labels = {
        k: v
        for k, v in (cfg.get("Labels") or {}).items()
        if k not in old_labels or old_labels[k] != v
    }
    if labels:
        body["Labels"] = labels
    # The engine publishes only exposed ports: a port the user published (`-p`, which the CLI
    # also exposes) stays exposed even when it was the old image's and the new one drops it.
    published = set(container["HostConfig"].get("PortBindings") or {})
    ports = {
        k: v
        for k, v in (cfg.get("ExposedPorts") or {}).items()
        if k not in (old.get("ExposedPorts") or {}) or k in published
    }
    if ports:
        body["ExposedPorts"] = ports
    volumes = {
        k: v for k, v in (cfg.get("Volumes") or {}).items() if k not in (old.get("Volumes") or {})
    }
    if volumes:
        body["Volumes"] = volumes
    if joins_container:
        # Only the image can have put ports there (the engine refuses them from the user in
        # this mode: "conflicting options: port exposing and the container type network mode").
        body.pop("ExposedPorts", None)

    healthcheck = _healthcheck(cfg.get("Healthcheck"), old.get("Healthcheck"))
    if healthcheck is not None:
        body["Healthcheck"] = healthcheck
    body.update(_command(cfg, old))
    return body


def _healthcheck(mine: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, Any] | None:
    """The user's part of the healthcheck: the engine merges it field by field from the image,
    so `--health-interval` alone keeps the new image's test."""
    if not mine:
        return None
    if not old:
        return dict(mine)
    kept = {k: v for k, v in mine.items() if k not in _HEALTHCHECK_FIELDS or v != old.get(k)}
    return kept or None


def _command(cfg: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """Entrypoint and Cmd. The engine fills Cmd from the image only when the Entrypoint is
    empty, so an Entrypoint the user set pins Cmd too, as the container has it."""
    entrypoint, cmd = cfg.get("Entrypoint"), cfg.get("Cmd")
    old_entrypoint, old_cmd = old.get("Entrypoint"), old.get("Cmd")
    # Same entrypoint as the image but no Cmd while the image has one: only an explicit
    # `--entrypoint` stops the engine filling Cmd, so the user set it (to the same value).
    overridden = entrypoint != old_entrypoint or bool(entrypoint and not cmd and old_cmd)
    out: dict[str, Any] = {}
    if overridden:
        out["Entrypoint"] = entrypoint
        if entrypoint:
            out["Cmd"] = cmd
            return out
    if cmd != old_cmd:
        out["Cmd"] = cmd
        if cfg.get("ArgsEscaped"):  # Windows: belongs to the Cmd it was set with
            out["ArgsEscaped"] = True
    return out


# --- HostConfig ------------------------------------------------------------------------------


def _host_config(container: dict[str, Any], network_container: str | None) -> dict[str, Any]:
    """The HostConfig as inspect returns it, minus what must not be copied, plus the old
    container's anonymous volumes mounted by name."""
    host: dict[str, Any] = dict(container["HostConfig"])
    # The CLI's --cidfile: the old container's id was written there; the new one must not
    # claim the file (the CLI, not the engine, writes it).
    host.pop("ContainerIDFile", None)
    # The size of the terminal that ran the old `docker run -t`, not configuration.
    host.pop("ConsoleSize", None)
    # The engine fills its default masked/read-only /proc paths at create; copied, they would
    # pin this engine version's list. Only the user's empty list (systempaths=unconfined) is
    # configuration.
    for key in ("MaskedPaths", "ReadonlyPaths"):
        if host.get(key):
            host.pop(key)

    if host.get("Links"):
        host["Links"] = [_legacy_link(link) for link in host["Links"]]

    mode = str(host.get("NetworkMode") or "")
    if network_container is not None:
        if not mode.startswith("container:"):
            raise ValueError(
                f"network_container given, but the container's network mode is {mode!r}"
            )
        host["NetworkMode"] = f"container:{network_container}"

    _carry_anonymous_volumes(host, container.get("Mounts") or [])
    return host


def _legacy_link(link: str) -> str:
    """Inspect gives `/other:/this/alias`; create takes `other:alias`."""
    target, sep, alias = link.partition(":")
    target = target.lstrip("/")
    if not sep:
        return target
    return f"{target}:{alias.rsplit('/', 1)[-1]}"


def _bind_parts(bind: str) -> tuple[str | None, str]:
    """(source or None when anonymous, destination) of a Binds entry `[src:]dst[:mode]`."""
    parts = bind.split(":")
    if len(parts) == 1 or (len(parts) == 2 and not parts[1].startswith("/")):
        return None, parts[0]  # `dst` or `dst:mode`: an anonymous volume
    return parts[0], parts[1]


def _clean(path: str) -> str:
    return path.rstrip("/") or "/"


def _carry_anonymous_volumes(host: dict[str, Any], mounts: list[dict[str, Any]]) -> None:
    """Mounts the old container's anonymous volumes (image VOLUME, `-v /path`, `--mount` with
    no source) by name at the same destinations, as compose does: otherwise the new container
    gets new empty ones and the data stays behind."""
    named: set[str] = set()  # destinations whose source the user named
    anonymous_binds: dict[str, int] = {}
    anonymous_mounts: dict[str, dict[str, Any]] = {}
    binds: list[str] = list(host.get("Binds") or [])
    host_mounts: list[dict[str, Any]] = [dict(m) for m in host.get("Mounts") or []]
    for index, bind in enumerate(binds):
        source, destination = _bind_parts(bind)
        if source is None:
            anonymous_binds[_clean(destination)] = index
        else:
            named.add(_clean(destination))
    for mount in host_mounts:
        destination = _clean(str(mount.get("Target") or ""))
        if mount.get("Type", "volume") == "volume" and not mount.get("Source"):
            anonymous_mounts[destination] = mount
        else:
            named.add(destination)

    added: list[dict[str, Any]] = []
    for mount in mounts:
        if mount.get("Type") != "volume" or not mount.get("Name"):
            continue  # binds, tmpfs: only from the HostConfig, which is kept
        destination = _clean(str(mount.get("Destination") or ""))
        name = str(mount["Name"])
        if not destination or destination in named:
            continue
        if destination in anonymous_mounts:
            anonymous_mounts[destination]["Source"] = name  # keeps its other options
        elif destination in anonymous_binds:
            index = anonymous_binds[destination]
            binds[index] = f"{name}:{binds[index]}"
        else:
            # Config.Volumes (image VOLUME or `-v /path`), or a volume of --volumes-from,
            # which inspect does not tell apart: mounting the same volume at the same place is
            # what the new container would get either way.
            carried: dict[str, Any] = {"Type": "volume", "Source": name, "Target": destination}
            if mount.get("RW") is False:
                carried["ReadOnly"] = True
            driver = mount.get("Driver")
            if driver and driver != "local":
                carried["VolumeOptions"] = {"DriverConfig": {"Name": driver}}
            added.append(carried)
    if binds:
        host["Binds"] = binds
    if host_mounts or added:
        host["Mounts"] = host_mounts + added


# --- networks --------------------------------------------------------------------------------


def _networks(
    container: dict[str, Any], host: dict[str, Any]
) -> tuple[dict[str, dict[str, Any]], list[NetworkAttachment]]:
    """({primary network: endpoint config}, the others to connect after create)."""
    mode = str(host.get("NetworkMode") or "")
    networks: dict[str, dict[str, Any]] = (container.get("NetworkSettings") or {}).get(
        "Networks"
    ) or {}
    if mode.startswith("container:") or mode in _NO_ENDPOINT_MODES or not networks:
        return {}, []
    # The engine adds the short id, and (20.10) the hostname, to the aliases on user-defined
    # networks by itself: kept, the old short id would resolve to the new container, and the
    # hostname (kept, or the new short id) comes back anyway.
    engine_aliases = {
        str(container.get("Id", ""))[:12],
        str(container["Config"].get("Hostname") or ""),
    }
    configs = {name: _endpoint_config(ep or {}, engine_aliases) for name, ep in networks.items()}

    primary = _primary_network(mode, networks)
    if primary is None:
        # The container left the network it was created on: create it on one it is on now.
        primary = next(iter(networks))
        host["NetworkMode"] = primary
    extras = [NetworkAttachment(name, cfg) for name, cfg in configs.items() if name != primary]
    return {primary: configs[primary]}, extras


def _primary_network(mode: str, networks: dict[str, dict[str, Any]]) -> str | None:
    if mode in ("", "default"):
        mode = "bridge"  # the default network on Linux
    if mode in networks:
        return mode
    for name, endpoint in networks.items():  # `--network <id>`
        if str((endpoint or {}).get("NetworkID") or "").startswith(mode):
            return name
    return None


def _endpoint_config(endpoint: dict[str, Any], engine_aliases: set[str]) -> dict[str, Any]:
    """What was asked for on this network; IP, gateway, MAC, endpoint id are runtime state."""
    out: dict[str, Any] = {}
    aliases = [a for a in endpoint.get("Aliases") or [] if a not in engine_aliases]
    if aliases:
        out["Aliases"] = aliases
    ipam = {k: v for k, v in (endpoint.get("IPAMConfig") or {}).items() if v}
    if ipam:
        out["IPAMConfig"] = ipam
    if endpoint.get("Links"):
        out["Links"] = list(endpoint["Links"])
    if endpoint.get("DriverOpts"):
        out["DriverOpts"] = dict(endpoint["DriverOpts"])
    return out


def _connect_args(endpoint: dict[str, Any]) -> dict[str, Any]:
    """EndpointSettings -> the keyword arguments of APIClient.connect_container_to_network."""
    ipam = endpoint.get("IPAMConfig") or {}
    # docker-py rebuilds `name:alias` from pairs (it sorts them; the order carries no meaning)
    pairs = (link.partition(":") for link in endpoint.get("Links") or [])
    links = [(name, alias or None) for name, _, alias in pairs]
    return {
        "aliases": endpoint.get("Aliases") or None,
        "links": links or None,
        "ipv4_address": ipam.get("IPv4Address") or None,
        "ipv6_address": ipam.get("IPv6Address") or None,
        "link_local_ips": ipam.get("LinkLocalIPs") or None,
        "driver_opt": endpoint.get("DriverOpts") or None,
    }
