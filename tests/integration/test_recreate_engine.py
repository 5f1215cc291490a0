"""Recreating a richly configured container on a new image, on the real engine: what the user
set survives field by field, what came from the old image's defaults follows the new image,
and the data in every kind of volume is still there."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.errors import APIError, NotFound

import testbed as tb
from watchdocker.engine.client import connect
from watchdocker.update.journal import Journal
from watchdocker.update.recreate import NetworkAttachment, build_recreate_spec, create_from_spec
from watchdocker.update.updater import HealthPolicy, ReplaceResult, Updater

pytestmark = pytest.mark.integration

V1: dict[str, Any] = {
    "env": {"A": "1", "B": "2"},
    "labels": {"img": "one", "keep": "x"},
    "expose": ["80", "81/udp"],
    "volumes": ["/data"],
    "workdir": "/app",
    "user": "1000",
    "healthcheck": ["/bin/true"],
    "healthcheck_interval": "1s",
    "stopsignal": "SIGUSR1",
    "cmd": ["sleep", "3600"],
}
V2: dict[str, Any] = {
    "env": {"A": "2", "C": "3"},
    "labels": {"img": "two"},
    "expose": ["90"],
    "volumes": ["/data2"],
    "workdir": "/app2",
    "user": "1001",
    "healthcheck": ["/bin/sh", "-c", "true"],
    "healthcheck_interval": "2s",
    "stopsignal": "SIGUSR2",
    "cmd": ["sleep", "7200"],
}
# Config fields the image provides defaults for: compared against the new image, not the old
# container.
IMAGE_DEFAULTS = {
    "Cmd", "Entrypoint", "Env", "Labels", "ExposedPorts", "Healthcheck", "WorkingDir", "User",
    "Volumes", "StopSignal", "Image",
}  # fmt: skip


@dataclasses.dataclass
class Made:
    """What a test created, removed at its end whatever happened."""

    api: docker.APIClient
    containers: list[str] = dataclasses.field(default_factory=list)
    volumes: set[str] = dataclasses.field(default_factory=set)
    networks: list[str] = dataclasses.field(default_factory=list)
    images: list[str] = dataclasses.field(default_factory=list)

    def container(self, ref: str) -> str:
        self.containers.append(ref)
        return ref

    def remember_volumes(self, inspected: dict[str, Any]) -> None:
        """Anonymous volumes carry no label: remembered by name to be removed."""
        self.volumes |= {m["Name"] for m in inspected.get("Mounts") or [] if m.get("Name")}

    def remove(self) -> None:
        # Also what a failed step left untracked (all of this test module's names share a
        # prefix); each removal on its own, so one refusal does not leave the rest behind.
        leftovers = tb.docker_cli("ps", "-aq", "--filter", f"name={name('')}").split()
        for ref in [*self.containers, *leftovers]:
            with contextlib.suppress(NotFound):
                self.remember_volumes(self.api.inspect_container(ref))
                self.api.remove_container(ref, force=True)
        for remove, refs in (
            (lambda v: self.api.remove_volume(v, force=True), sorted(self.volumes)),
            (self.api.remove_network, self.networks),
            (lambda i: self.api.remove_image(i, force=True), self.images),
        ):
            for ref in refs:
                with contextlib.suppress(NotFound):
                    remove(ref)


@pytest.fixture
def made() -> Iterator[Made]:
    client = connect()
    record = Made(client.api)
    yield record
    record.remove()
    client.close()


def name(suffix: str) -> str:
    return f"wdt-{tb.RUN_ID}-rc-{suffix}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(made: Made, ref: str, marker: str, defaults: dict[str, Any]) -> str:
    image_id = tb.build_image(ref, marker=marker, **defaults)
    made.images.append(image_id)
    return image_id


def user_network(made: Made) -> tuple[str, str]:
    """A labelled network with a subnet of its own: (name, static IP for the container)."""
    net = name("net")
    seed = zlib.crc32(tb.RUN_ID.encode())  # parallel runs try different subnets first
    for attempt in range(20):
        subnet = f"10.{200 + attempt}.{seed % 250}.0/24"
        try:
            tb.docker_cli(
                "network", "create", "--label", tb.label_filter(), "--subnet", subnet, net
            )
        except tb.DockerError as exc:
            if "overlap" in exc.stderr:
                continue
            raise
        made.networks.append(net)
        return net, subnet.replace(".0/24", ".10")
    pytest.fail("no free 10.x subnet for the test network")


def sh(container: str, script: str) -> str:
    return tb.docker_cli("exec", "-u", "0", container, "sh", "-c", script)


def update(made: Made, journal: Path, old: dict[str, Any], new_image_id: str) -> ReplaceResult:
    """The real updater replaces `old`, then the containers joined to its network, by ones on
    its tag, which now names `new_image_id` (as after a pull)."""
    updater = Updater(made.api, Journal(journal), HealthPolicy(timeout=60, stable_seconds=1))
    done = updater.replace(old["Name"].lstrip("/"), old["Id"], new_image_id, old["Config"]["Image"])
    for replaced in (done, *done.dependents):
        assert replaced.result == "updated" and replaced.new_id, replaced.reason
        made.remember_volumes(made.api.inspect_container(made.container(replaced.new_id)))
    return done


def differing(
    before: dict[str, Any], after: dict[str, Any], skip: frozenset[str] | set[str] = frozenset()
) -> set[str]:
    return {
        k for k in before.keys() | after.keys() if k not in skip and before.get(k) != after.get(k)
    }


def mounts_by_destination(inspected: dict[str, Any]) -> dict[str, tuple[str, str, bool]]:
    return {
        m["Destination"]: (m["Type"], m.get("Name") or m["Source"], m["RW"])
        for m in inspected["Mounts"]
    }


def endpoint(inspected: dict[str, Any], network: str) -> dict[str, Any]:
    """The configured part of an endpoint, without what the engine adds by itself."""
    ep = inspected["NetworkSettings"]["Networks"][network]
    short = inspected["Id"][:12]
    return {
        "NetworkID": ep["NetworkID"],
        "Aliases": [a for a in ep.get("Aliases") or [] if a != short],
        "IPAMConfig": {k: v for k, v in (ep.get("IPAMConfig") or {}).items() if v},
        "Links": ep.get("Links") or [],
        "DriverOpts": ep.get("DriverOpts") or {},
    }


def test_recreate_keeps_what_the_user_set_and_takes_the_new_image_defaults(
    made: Made, tmp_path: Path
):
    api = made.api
    ref = tb.repo("open", "recreate-full") + ":latest"
    build(made, ref, "full-1", V1)
    net, static_ip = user_network(made)
    net2 = name("net2")
    tb.docker_cli("network", "create", "--label", tb.label_filter(), net2)
    made.networks.append(net2)
    volume = name("named")
    tb.docker_cli("volume", "create", "--label", tb.label_filter(), volume)
    made.volumes.add(volume)
    (tmp_path / "f").write_text("bound\n")
    target = made.container(tb.run_container(ref, name=name("target"), extra=["--network", net]))
    port = free_port()
    user_labels = {
        "u": "1",
        "keep": "mine",  # the same key as an image label, another value: the user's
        "com.docker.compose.project": f"wdt-{tb.RUN_ID}",
        "com.docker.compose.service": "web",
        "com.docker.compose.config-hash": "0123abcd",
    }
    web = name("web")
    old_id = made.container(
        tb.run_container(
            ref,
            name=web,
            labels=user_labels,
            extra=[
                *("-e", "A=9", "-e", "U=u"),  # A overrides the image's A=1
                *("-p", f"127.0.0.1:{port}:80"),
                *("-v", f"{volume}:/named", "-v", f"{tmp_path}:/bound:ro", "-v", "/anon"),
                *("--restart", "unless-stopped", "--memory", "64m", "--cpu-shares", "512"),
                *("--cpu-quota", "50000", "--cpuset-cpus", "0", "--pids-limit", "50"),
                *("--ulimit", "nofile=1024:2048", "--oom-score-adj", "10"),
                *("--cap-add", "NET_ADMIN", "--cap-drop", "CHOWN"),
                *("--security-opt", "no-new-privileges", "--log-opt", "max-size=1m"),
                *("--hostname", "myhost", "--domainname", "example.test"),
                *("--dns", "192.0.2.53", "--dns-search", "example.test", "--dns-option", "ndots:2"),
                *("--add-host", "foo:10.1.2.3", "--stop-timeout", "7"),
                *("--network", net, "--ip", static_ip, "--network-alias", "web-alias"),
                *("--link", f"{name('target')}:oth"),
                *("--device", "/dev/null:/dev/mynull", "--tmpfs", "/scratch:size=1m"),
                *("--sysctl", "net.ipv4.ip_forward=1", "--init", "--shm-size", "32m"),
                *("--group-add", "123", "--read-only"),
            ],
        )
    )
    tb.docker_cli("network", "connect", "--alias", "second", "--alias", "sec2", net2, web)
    sh(web, "echo named > /named/f && echo anon > /anon/f && echo data > /data/f")
    dependent = made.container(
        tb.run_container(
            ref,
            name=name("sidecar"),
            # sleep, PID 1 without a handler, ignores the stop signal: no 10 s wait for a kill
            extra=["--network", f"container:{web}", "--stop-timeout", "1"],
        )
    )
    before = api.inspect_container(old_id)
    before_dependent = api.inspect_container(dependent)
    made.remember_volumes(before)
    made.remember_volumes(before_dependent)
    assert target and before["State"]["Running"] and before_dependent["State"]["Running"]

    v2_id = build(made, ref, "full-2", V2)  # the same tag, now on v2, as after a pull
    v2 = api.inspect_image(ref)["Config"]
    done = update(made, tmp_path / "journal", before, v2_id)
    [joined] = done.dependents
    new_id, after = done.new_id, api.inspect_container(done.new_id)
    new_dependent, after_dependent = joined.new_id, api.inspect_container(joined.new_id)

    # HostConfig: all of it, but the anonymous volumes now mounted by name.
    assert differing(before["HostConfig"], after["HostConfig"]) == {"Mounts"}
    assert "Mounts" not in before["HostConfig"]
    anon = {
        d: n for d, (_, n, _) in mounts_by_destination(before).items() if d in ("/data", "/anon")
    }
    assert sorted(after["HostConfig"]["Mounts"], key=lambda m: m["Target"]) == [
        {"Type": "volume", "Source": anon["/anon"], "Target": "/anon"},
        {"Type": "volume", "Source": anon["/data"], "Target": "/data"},
    ]

    # Mounts: the same volumes and binds at the same places, plus v2's new VOLUME.
    mounts_after = mounts_by_destination(after)
    new_volume = mounts_after.pop("/data2")
    assert new_volume[0] == "volume"
    assert new_volume[1] not in {n for _, n, _ in mounts_by_destination(before).values()}
    assert mounts_after == mounts_by_destination(before)
    assert sh(new_id, "cat /named/f /anon/f /data/f /bound/f").split() == [
        "named",
        "anon",
        "data",
        "bound",
    ]

    # Networks: aliases, static IP, links, on both networks; the port still published.
    assert set(after["NetworkSettings"]["Networks"]) == {net, net2}
    for network in (net, net2):
        assert endpoint(after, network) == endpoint(before, network), network
    assert endpoint(after, net)["IPAMConfig"] == {"IPv4Address": static_ip}
    assert after["NetworkSettings"]["Networks"][net]["IPAddress"] == static_ip
    assert endpoint(after, net)["Links"] == [f"{name('target')}:oth"]
    assert set(endpoint(after, net2)["Aliases"]) >= {"second", "sec2"}
    assert after["NetworkSettings"]["Ports"]["80/tcp"] == [
        {"HostIp": "127.0.0.1", "HostPort": str(port)}
    ]
    # the link alias resolves, through the network's DNS, to the linked container
    target_ip = api.inspect_container(target)["NetworkSettings"]["Networks"][net]["IPAddress"]
    assert target_ip in sh(new_id, "nslookup oth 127.0.0.11")

    # Config: the user's fields as they were; the image's defaults now v2's.
    cfg, old_cfg = after["Config"], before["Config"]
    assert differing(old_cfg, cfg, skip=IMAGE_DEFAULTS) == set()
    assert (cfg["Hostname"], cfg["Domainname"], cfg["StopTimeout"]) == (
        "myhost",
        "example.test",
        7,
    )
    assert cfg["Image"] == ref
    user_env = ["A=9", "U=u"]
    # in the old container's order (the 20.10 CLI itself does not always keep the -e order)
    assert cfg["Env"][:2] == [e for e in old_cfg["Env"] if e in user_env]
    assert set(cfg["Env"]) == {*user_env, *(e for e in v2["Env"] if not e.startswith("A="))}
    assert not any(e.startswith("B=") for e in cfg["Env"])  # v1's, gone with v1
    assert cfg["Labels"] == {**v2["Labels"], **user_labels, tb.LABEL: tb.RUN_ID}
    assert "img" in cfg["Labels"] and cfg["Labels"]["img"] == "two"
    for key in ("Cmd", "Entrypoint", "WorkingDir", "User", "Healthcheck", "StopSignal"):
        assert cfg.get(key) == v2.get(key), key
    assert (cfg["Cmd"], cfg["WorkingDir"], cfg["User"], cfg["StopSignal"]) == (
        ["sleep", "7200"],
        "/app2",
        "1001",
        "SIGUSR2",
    )
    # v2's ports, and 80 still exposed because it is published
    assert cfg["ExposedPorts"] == {**v2["ExposedPorts"], "80/tcp": {}}
    assert cfg["Volumes"] == {**v2["Volumes"], "/anon": {}}

    # The settings really apply to the running container.
    assert sh(new_id, "cat /proc/sys/net/ipv4/ip_forward").strip() == "1"
    assert sh(new_id, "test -c /dev/mynull && grep -c ' /scratch tmpfs' /proc/mounts").strip()
    assert sh(new_id, "hostname").strip() == "myhost"

    # The sidecar joined the NEW container's network namespace.
    assert after_dependent["HostConfig"]["NetworkMode"] == f"container:{new_id}"
    assert differing(
        before_dependent["HostConfig"], after_dependent["HostConfig"], skip={"NetworkMode"}
    ) == {"Mounts"}  # its image VOLUME, carried
    assert sh(new_dependent, "hostname").strip() == "myhost"
    assert static_ip in sh(new_dependent, "ip -4 addr show")


def test_legacy_link_entrypoint_partial_healthcheck_and_failed_connect(made: Made, tmp_path: Path):
    api = made.api
    ref = tb.repo("open", "recreate-bridge") + ":latest"
    build(made, ref, "bridge-1", V1)
    target = made.container(tb.run_container(ref, name=name("btarget")))
    app = name("bridge-app")
    old_id = made.container(
        tb.run_container(
            ref,
            "3600",
            name=app,
            extra=[
                *("--link", f"{name('btarget')}:oth", "--entrypoint", "sleep"),
                *("--health-interval", "3s", "--mount", "type=volume,target=/m1", "-P"),
                *("--stop-timeout", "1"),  # sleep as PID 1 ignores the stop signal
            ],
        )
    )
    sh(app, "echo m1 > /m1/f")
    before = api.inspect_container(old_id)
    made.remember_volumes(before)
    assert target and before["HostConfig"]["Links"] == [f"/{name('btarget')}:/{app}/oth"]

    v2_id = build(made, ref, "bridge-2", V2)
    v2 = api.inspect_image(ref)["Config"]

    # A network gone: refused before anything is created.
    spec = build_recreate_spec(
        before, api.inspect_image(before["Image"]), api.inspect_image(ref), image=ref
    )
    missing = NetworkAttachment(name("no-such-net"), {"Aliases": ["x"]})
    with pytest.raises(NotFound):
        create_from_spec(
            api, dataclasses.replace(spec, name=name("broken"), extra_networks=[missing])
        )
    with pytest.raises(NotFound):
        api.inspect_container(name("broken"))
    # A failure after create (a static IP on a network without a user subnet) removes the new
    # container, and leaves the old one's volumes that it mounted.
    plain_net = name("plain-net")
    tb.docker_cli("network", "create", "--label", tb.label_filter(), plain_net)
    made.networks.append(plain_net)
    refused = NetworkAttachment(plain_net, {"IPAMConfig": {"IPv4Address": "10.250.0.5"}})
    with pytest.raises(APIError, match="user configured subnets"):
        create_from_spec(
            api, dataclasses.replace(spec, name=name("broken"), extra_networks=[refused])
        )
    with pytest.raises(NotFound):
        api.inspect_container(name("broken"))
    m1 = next(m["Name"] for m in before["Mounts"] if m["Destination"] == "/m1")
    assert api.inspect_volume(m1)["Name"] == m1
    assert api.inspect_container(old_id)["State"]["Running"]

    new_id = update(made, tmp_path / "journal", before, v2_id).new_id
    after = api.inspect_container(new_id)
    assert after["HostConfig"]["Links"] == before["HostConfig"]["Links"]
    assert "oth" in sh(new_id, "cat /etc/hosts")
    assert (after["Config"]["Entrypoint"], after["Config"]["Cmd"]) == (["sleep"], ["3600"])
    # --health-interval alone: the new image's test at the user's interval
    assert after["Config"]["Healthcheck"] == {**v2["Healthcheck"], "Interval": 3 * 10**9}
    # --mount without a source: the same volume now named in the mount
    assert after["HostConfig"]["Mounts"][0] == {"Type": "volume", "Source": m1, "Target": "/m1"}
    assert sh(new_id, "cat /m1/f").strip() == "m1"
    # -P publishes what the new image exposes
    assert after["HostConfig"]["PublishAllPorts"] is True
    assert set(after["Config"]["ExposedPorts"]) == set(v2["ExposedPorts"])
    assert after["NetworkSettings"]["Ports"]["90/tcp"]
    assert differing(before["HostConfig"], after["HostConfig"]) == {"Mounts"}
