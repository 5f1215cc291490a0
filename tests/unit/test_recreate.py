"""build_recreate_spec over inspect dicts captured from the engine (Docker 20.10, API 1.41) and
trimmed: what the user set is kept, what came from the old image's defaults is left unset."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from docker.errors import NotFound
from docker.types import EndpointConfig

from watchdocker.update.recreate import (
    NetworkAttachment,
    RecreateSpec,
    build_recreate_spec,
    create_from_spec,
)

CID = "586d6dcc4b3637f9cef83f9a66d7856343507f50a9aff11b3268717b01062632"
SHORT = CID[:12]
NEW_ID = "b1994b8338a7b5a281969c0012641541762bc101e0fe7fb38ad96265e99b882a"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
ANON_DATA = "b204b443a730d1421232506b872016e664d0c1d1483182fc21205b05b8981f94"
ANON_USER = "297b2ec36ba5c57fa3d4aabff0685d6098aef9301753f832a3da19e092fcf5c6"
REF = "127.0.0.1:5100/x/web:latest"

# `docker image inspect` of v1 (FROM busybox; ENV A=1 B=2; WORKDIR /app; USER 1000;
# EXPOSE 80 81/udp; VOLUME /data; STOPSIGNAL SIGUSR1; HEALTHCHECK; LABEL; CMD).
OLD_IMAGE: dict[str, Any] = {
    "Id": "sha256:" + "1" * 64,
    "Config": {
        "Hostname": "",
        "Domainname": "",
        "User": "1000",
        "ExposedPorts": {"80/tcp": {}, "81/udp": {}},
        "Env": [PATH_ENV, "A=1", "B=2"],
        "Cmd": ["sleep", "3600"],
        "Healthcheck": {"Test": ["CMD", "/bin/true"], "Interval": 1000000000},
        "Image": "sha256:" + "7" * 64,
        "Volumes": {"/data": {}},
        "WorkingDir": "/app",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": {"img": "one", "keep": "x", "watchdocker.testbed": "base"},
        "StopSignal": "SIGUSR1",
    },
}
# v2: every default changed.
NEW_IMAGE: dict[str, Any] = {
    "Id": "sha256:" + "2" * 64,
    "Config": {
        "User": "1001",
        "ExposedPorts": {"90/tcp": {}},
        "Env": [PATH_ENV, "A=2", "C=3"],
        "Cmd": ["sleep", "7200"],
        "Healthcheck": {"Test": ["CMD", "/bin/true", "x"], "Interval": 2000000000},
        "Volumes": {"/data2": {}},
        "WorkingDir": "/app2",
        "Entrypoint": None,
        "Labels": {"img": "two", "watchdocker.testbed": "base"},
        "StopSignal": "SIGUSR2",
    },
}

# `docker run -d --name web -e A=9 -e U=u --label u=1 -p 127.0.0.1:18080:80 -v vol:/named
#  -v /tmp/bind:/bound:ro -v /anon --restart unless-stopped --memory 64m --cpu-shares 512
#  --cap-add NET_ADMIN --cap-drop CHOWN --security-opt no-new-privileges --log-opt max-size=1m
#  --hostname myhost --dns 1.1.1.1 --add-host foo:10.1.2.3 --stop-timeout 7 --network net
#  --ip 172.31.240.10 --network-alias web --link other:oth --tmpfs /scratch:size=1m
#  --sysctl net.ipv4.ip_forward=1 --device /dev/null:/dev/mynull --pids-limit 50
#  --ulimit nofile=1024:2048 --init --shm-size 32m --group-add 123 --read-only
#  --dns-search ex.com --dns-option ndots:2 --domainname dom.ex --cpu-quota 50000
#  --cpuset-cpus 0 --oom-score-adj 10 v1`, then `docker network connect --alias second net2`.
MASKED = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
CONTAINER: dict[str, Any] = {
    "Id": CID,
    "Name": "/web",
    "Image": "sha256:" + "1" * 64,
    "Config": {
        "Hostname": "myhost",
        "Domainname": "dom.ex",
        "User": "1000",
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "ExposedPorts": {"80/tcp": {}, "81/udp": {}},
        "Tty": False,
        "OpenStdin": False,
        "StdinOnce": False,
        "Env": ["A=9", "U=u", PATH_ENV, "B=2"],
        "Cmd": ["sleep", "3600"],
        "Healthcheck": {"Test": ["CMD", "/bin/true"], "Interval": 1000000000},
        "Image": REF,
        "Volumes": {"/anon": {}, "/data": {}},
        "WorkingDir": "/app",
        "Entrypoint": None,
        "OnBuild": None,
        "Labels": {
            "img": "one",
            "keep": "x",
            "u": "1",
            "watchdocker.testbed": "base",
            "com.docker.compose.project": "shop",
            "com.docker.compose.service": "web",
            "com.docker.compose.config-hash": "abc123",
        },
        "StopSignal": "SIGUSR1",
        "StopTimeout": 7,
    },
    "HostConfig": {
        "Binds": ["/tmp/bind:/bound:ro", "vol:/named"],
        "ContainerIDFile": "/tmp/web.cid",
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}},
        "NetworkMode": "net",
        "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]},
        "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
        "AutoRemove": False,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "CapAdd": ["CAP_NET_ADMIN"],
        "CapDrop": ["CAP_CHOWN"],
        "CgroupnsMode": "host",
        "Dns": ["1.1.1.1"],
        "DnsOptions": ["ndots:2"],
        "DnsSearch": ["ex.com"],
        "ExtraHosts": ["foo:10.1.2.3"],
        "GroupAdd": ["123"],
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 10,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": True,
        "SecurityOpt": ["no-new-privileges"],
        "Tmpfs": {"/scratch": "size=1m"},
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 33554432,
        "Sysctls": {"net.ipv4.ip_forward": "1"},
        "Runtime": "runc",
        "ConsoleSize": [0, 0],
        "Isolation": "",
        "CpuShares": 512,
        "Memory": 67108864,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "CpuPeriod": 0,
        "CpuQuota": 50000,
        "CpusetCpus": "0",
        "CpusetMems": "",
        "Devices": [
            {
                "PathOnHost": "/dev/null",
                "PathInContainer": "/dev/mynull",
                "CgroupPermissions": "rwm",
            }
        ],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemoryReservation": 0,
        "MemorySwap": 134217728,
        "MemorySwappiness": None,
        "OomKillDisable": False,
        "PidsLimit": 50,
        "Ulimits": [{"Name": "nofile", "Hard": 2048, "Soft": 1024}],
        "MaskedPaths": MASKED,
        "ReadonlyPaths": READONLY,
        "Init": True,
    },
    "Mounts": [
        {
            "Type": "volume",
            "Name": ANON_DATA,
            "Source": f"/var/lib/docker/volumes/{ANON_DATA}/_data",
            "Destination": "/data",
            "Driver": "local",
            "Mode": "",
            "RW": True,
            "Propagation": "",
        },
        {
            "Type": "bind",
            "Source": "/tmp/bind",
            "Destination": "/bound",
            "Mode": "ro",
            "RW": False,
            "Propagation": "rprivate",
        },
        {
            "Type": "volume",
            "Name": "vol",
            "Source": "/var/lib/docker/volumes/vol/_data",
            "Destination": "/named",
            "Driver": "local",
            "Mode": "z",
            "RW": True,
            "Propagation": "",
        },
        {
            "Type": "volume",
            "Name": ANON_USER,
            "Source": f"/var/lib/docker/volumes/{ANON_USER}/_data",
            "Destination": "/anon",
            "Driver": "local",
            "Mode": "",
            "RW": True,
            "Propagation": "",
        },
    ],
    "NetworkSettings": {
        "Networks": {
            "net": {
                "IPAMConfig": {"IPv4Address": "172.31.240.10"},
                "Links": ["other:oth"],
                "Aliases": ["web", SHORT, "myhost"],
                "NetworkID": "0ec9227faab6fd07c5102bf8943c59419144036cf8fb444653b7c75fe6b38014",
                "EndpointID": "83331316bbb20685f889ee41e547bff3f49df4ea60d060f1608fb2b77919cba0",
                "Gateway": "172.31.240.1",
                "IPAddress": "172.31.240.10",
                "IPPrefixLen": 24,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "MacAddress": "02:42:ac:1f:f0:0a",
                "DriverOpts": None,
            },
            "net2": {
                "IPAMConfig": {},
                "Links": None,
                "Aliases": ["second", "sec2", SHORT, "myhost"],
                "NetworkID": "25d83c84f69fd219f5f26c352aa1635d0436f59949dd7fe6c34ed51f34620ef5",
                "EndpointID": "f4972ea2fab645d8153366f28ab31f661dac008332fcbb591bc51776c7a6f3b5",
                "Gateway": "172.18.0.1",
                "IPAddress": "172.18.0.2",
                "IPPrefixLen": 16,
                "MacAddress": "02:42:ac:12:00:02",
                "DriverOpts": {},
            },
        }
    },
}

# `docker run -d busybox-v1`: nothing set by the user (Hostname is the engine's short id).
PLAIN: dict[str, Any] = {
    "Id": CID,
    "Name": "/plain",
    "Config": {
        **copy.deepcopy(OLD_IMAGE["Config"]),
        "Hostname": SHORT,
        "Image": REF,
        "AttachStdin": False,
        "Tty": False,
    },
    "HostConfig": {
        "Binds": None,
        "NetworkMode": "default",
        "PortBindings": {},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "Links": None,
        "ConsoleSize": [0, 0],
        "MaskedPaths": MASKED,
        "ReadonlyPaths": READONLY,
    },
    "Mounts": [
        {
            "Type": "volume",
            "Name": ANON_DATA,
            "Destination": "/data",
            "Driver": "local",
            "RW": True,
        }
    ],
    "NetworkSettings": {
        "Networks": {
            "bridge": {
                "IPAMConfig": None,
                "Links": None,
                "Aliases": None,
                "NetworkID": "15ca4bad76870cec0a310f6c8404dd7dde1e6fc24f674aceb8f95e024a055cc7",
                "IPAddress": "172.17.0.43",
                "DriverOpts": None,
            }
        }
    },
}


def spec_of(
    container: dict[str, Any] = CONTAINER,
    *,
    config: dict[str, Any] | None = None,
    host: dict[str, Any] | None = None,
    old: dict[str, Any] | None = None,
    **kwargs: Any,
) -> RecreateSpec:
    """The spec for `container` with Config / HostConfig fields replaced (None deletes)."""
    c = copy.deepcopy(container)
    for section, changes in (("Config", config), ("HostConfig", host)):
        for key, value in (changes or {}).items():
            if value is None:
                c[section].pop(key, None)
            else:
                c[section][key] = value
    old_image = {"Config": {**OLD_IMAGE["Config"], **(old or {})}}
    return build_recreate_spec(c, old_image, NEW_IMAGE, image=kwargs.pop("image", REF), **kwargs)


# --- Config: image defaults vs user values ---------------------------------------------------


def test_env_keeps_user_variables_and_overrides_drops_image_ones():
    assert spec_of().body["Env"] == ["A=9", "U=u"]  # A=9 overrides the image's A=1: kept
    assert "Env" not in spec_of(PLAIN).body  # PATH, A=1, B=2 all from the image


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ([PATH_ENV, "A=1", "B=2"], None),
        ([PATH_ENV, "A=1", "B=2", "EMPTY="], ["EMPTY="]),
        (["PATH=/opt/bin", "A=1", "B=2"], ["PATH=/opt/bin"]),
        (["A=1=1", PATH_ENV, "B=2"], ["A=1=1"]),
        ([], None),
        (None, None),
    ],
)
def test_env_per_variable(env: list[str] | None, expected: list[str] | None):
    assert spec_of(PLAIN, config={"Env": env or []}).body.get("Env") == expected


def test_labels_per_key_and_value_compose_labels_intact():
    labels = spec_of().body["Labels"]
    assert labels == {
        "u": "1",
        "com.docker.compose.project": "shop",
        "com.docker.compose.service": "web",
        "com.docker.compose.config-hash": "abc123",
    }
    overridden = spec_of(config={"Labels": {"img": "mine", "keep": "x"}}).body["Labels"]
    assert overridden == {"img": "mine"}  # same key, other value: the user's
    assert "Labels" not in spec_of(PLAIN).body


def test_exposed_ports_and_volumes_per_key():
    body = spec_of(config={"ExposedPorts": {"80/tcp": {}, "81/udp": {}, "8443/tcp": {}}}).body
    # --expose 8443: the user's; 81/udp: the image's; 80/tcp: the image's, but published with
    # -p, and the engine publishes only exposed ports (checked on 20.10: a PortBindings entry
    # for a port not in ExposedPorts is silently not published)
    assert body["ExposedPorts"] == {"80/tcp": {}, "8443/tcp": {}}
    assert body["Volumes"] == {"/anon": {}}  # -v /anon; /data from the image
    assert "ExposedPorts" not in spec_of(PLAIN).body and "Volumes" not in spec_of(PLAIN).body


@pytest.mark.parametrize("key", ["User", "WorkingDir", "StopSignal"])
def test_scalar_defaults_left_to_the_new_image_user_values_kept(key: str):
    assert key not in spec_of().body
    mine = {"User": "nobody", "WorkingDir": "/srv", "StopSignal": "SIGTERM"}[key]
    assert spec_of(config={key: mine}).body[key] == mine


def test_user_equal_to_the_old_image_default_follows_the_new_image():
    # Indistinguishable from the default: the engine then applies the new image's value.
    assert "User" not in spec_of(config={"User": "1000"}).body


@pytest.mark.parametrize(
    ("container_hc", "image_hc", "expected"),
    [
        # from the image
        (
            {"Test": ["CMD", "/bin/true"], "Interval": 1000000000},
            {"Test": ["CMD", "/bin/true"], "Interval": 1000000000},
            None,
        ),
        # --health-interval 5s alone: the engine merged the image's Test in; only Interval
        # is the user's, so the new image's test applies
        (
            {"Test": ["CMD", "/bin/true"], "Interval": 5000000000},
            {"Test": ["CMD", "/bin/true"], "Interval": 1000000000},
            {"Interval": 5000000000},
        ),
        # --health-cmd
        (
            {"Test": ["CMD-SHELL", "wget -q localhost"], "Interval": 1000000000, "Retries": 5},
            {"Test": ["CMD", "/bin/true"], "Interval": 1000000000},
            {"Test": ["CMD-SHELL", "wget -q localhost"], "Retries": 5},
        ),
        # --no-healthcheck
        ({"Test": ["NONE"]}, {"Test": ["CMD", "/bin/true"]}, {"Test": ["NONE"]}),
        # the image had none: all the user's
        ({"Test": ["CMD", "true"], "Interval": 1}, None, {"Test": ["CMD", "true"], "Interval": 1}),
        (None, None, None),
    ],
)
def test_healthcheck_per_field(container_hc: Any, image_hc: Any, expected: Any):
    c = copy.deepcopy(PLAIN)
    c["Config"]["Healthcheck"] = container_hc
    old = {"Config": {**OLD_IMAGE["Config"], "Healthcheck": image_hc}}
    assert build_recreate_spec(c, old, NEW_IMAGE, image=REF).body.get("Healthcheck") == expected


MISSING = object()


@pytest.mark.parametrize(
    ("image_ep", "image_cmd", "ep", "cmd", "want_ep", "want_cmd"),
    [
        # `docker run img`: both from the image
        (None, ["sleep", "3600"], None, ["sleep", "3600"], MISSING, MISSING),
        (["/entry"], ["run"], ["/entry"], ["run"], MISSING, MISSING),
        # `docker run img sh -c x`: Cmd is the user's, the new image's entrypoint applies
        (None, ["sleep", "3600"], None, ["sh", "-c", "x"], MISSING, ["sh", "-c", "x"]),
        (["/entry"], ["run"], ["/entry"], ["serve"], MISSING, ["serve"]),
        # `--entrypoint sleep img 100`: both the user's
        (None, ["sleep", "3600"], ["sleep"], ["100"], ["sleep"], ["100"]),
        # `--entrypoint sleep img` with no args: the engine left Cmd empty; it must stay so,
        # or the new image's CMD would become sleep's arguments
        (["/entry"], ["run"], ["sleep"], None, ["sleep"], None),
        # `--entrypoint sleep img 3600` where 3600 happens to equal the image's CMD: the engine
        # never filled Cmd, so it is the user's
        (None, ["3600"], ["sleep"], ["3600"], ["sleep"], ["3600"]),
        # `--entrypoint /entry` equal to the image's, no args: only an explicit entrypoint
        # leaves Cmd empty while the image has one
        (["/entry"], ["run"], ["/entry"], None, ["/entry"], None),
        # entrypoint cleared through the API (`[]`): Cmd still came from the image
        (["/entry"], ["run"], [], ["run"], [], MISSING),
    ],
)
def test_entrypoint_and_cmd(
    image_ep: Any, image_cmd: Any, ep: Any, cmd: Any, want_ep: Any, want_cmd: Any
):
    body = spec_of(
        PLAIN,
        config={"Entrypoint": ep, "Cmd": cmd},
        old={"Entrypoint": image_ep, "Cmd": image_cmd},
    ).body
    # spec_of deletes None fields: inspect shows them as null, the same to the engine
    assert body.get("Entrypoint", MISSING) == want_ep
    assert body.get("Cmd", MISSING) == want_cmd


def test_entrypoint_and_cmd_null_in_inspect():
    c = copy.deepcopy(PLAIN)
    c["Config"].update(Entrypoint=["sleep"], Cmd=None)
    body = build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF).body
    assert body["Entrypoint"] == ["sleep"] and "Cmd" in body and body["Cmd"] is None


def test_hostname_only_when_the_user_set_it():
    assert "Hostname" not in spec_of(PLAIN).body  # the engine's short id
    assert spec_of().body["Hostname"] == "myhost"
    assert spec_of().body["Domainname"] == "dom.ex"


def test_user_config_fields_kept_and_image_reference_replaced():
    body = spec_of(
        config={"Tty": True, "OpenStdin": True, "MacAddress": "02:42:ac:11:00:99"},
        image="127.0.0.1:5100/x/web:v2",
    ).body
    assert (body["Tty"], body["OpenStdin"], body["StopTimeout"]) == (True, True, 7)
    assert body["MacAddress"] == "02:42:ac:11:00:99"
    assert body["Image"] == "127.0.0.1:5100/x/web:v2"


def test_name_without_slash_and_input_not_mutated():
    before = copy.deepcopy(CONTAINER)
    spec = build_recreate_spec(CONTAINER, OLD_IMAGE, NEW_IMAGE, image=REF)
    assert spec.name == "web"
    assert before == CONTAINER


# --- HostConfig ------------------------------------------------------------------------------

KEPT_HOST_FIELDS = [
    "LogConfig",
    "NetworkMode",
    "PortBindings",
    "RestartPolicy",
    "CapAdd",
    "CapDrop",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "GroupAdd",
    "IpcMode",
    "OomScoreAdj",
    "Privileged",
    "PublishAllPorts",
    "ReadonlyRootfs",
    "SecurityOpt",
    "Tmpfs",
    "ShmSize",
    "Sysctls",
    "Runtime",
    "CpuShares",
    "Memory",
    "MemorySwap",
    "CpuQuota",
    "CpusetCpus",
    "Devices",
    "PidsLimit",
    "Ulimits",
    "Init",
    "Binds",
    "CgroupnsMode",
]


def test_host_config_kept_as_inspected_minus_what_must_not_be_copied():
    host = spec_of().body["HostConfig"]
    for key in KEPT_HOST_FIELDS:
        assert host[key] == CONTAINER["HostConfig"][key], key
    for key in ("ContainerIDFile", "ConsoleSize", "MaskedPaths", "ReadonlyPaths"):
        assert key not in host
    # everything not kept above was looked at: only Mounts is added
    assert set(CONTAINER["HostConfig"]) - set(host) == {
        "ContainerIDFile",
        "ConsoleSize",
        "MaskedPaths",
        "ReadonlyPaths",
    }
    assert set(host) - set(CONTAINER["HostConfig"]) == {"Mounts"}


def test_unconfined_system_paths_kept():
    host = spec_of(host={"MaskedPaths": [], "ReadonlyPaths": []}).body["HostConfig"]
    assert (host["MaskedPaths"], host["ReadonlyPaths"]) == ([], [])


@pytest.mark.parametrize(
    ("inspected", "given"),
    [
        (["/other:/web/oth"], ["other:oth"]),
        (["/db:/web/db", "/cache:/web/c"], ["db:db", "cache:c"]),
        (["/db"], ["db"]),
    ],
)
def test_legacy_links_given_as_name_alias(inspected: list[str], given: list[str]):
    assert spec_of(PLAIN, host={"Links": inspected}).body["HostConfig"]["Links"] == given


def test_network_container_mode_joins_the_new_container():
    dependent = copy.deepcopy(PLAIN)
    dependent["HostConfig"]["NetworkMode"] = f"container:{CID}"
    # inspect after start: hostname, domainname copied from the joined container
    dependent["Config"].update(Hostname="myhost", Domainname="dom.ex")
    dependent["NetworkSettings"]["Networks"] = {}
    spec = build_recreate_spec(dependent, OLD_IMAGE, NEW_IMAGE, image=REF, network_container=NEW_ID)
    assert spec.body["HostConfig"]["NetworkMode"] == f"container:{NEW_ID}"
    # refused by the engine in this mode; image ports would make it refuse too
    for key in ("Hostname", "Domainname", "ExposedPorts"):
        assert key not in spec.body
    assert spec.body["NetworkingConfig"] == {"EndpointsConfig": {}}
    assert spec.extra_networks == []
    same = build_recreate_spec(dependent, OLD_IMAGE, NEW_IMAGE, image=REF)
    assert same.body["HostConfig"]["NetworkMode"] == f"container:{CID}"


def test_network_container_for_another_mode_is_an_error():
    with pytest.raises(ValueError, match="network mode"):
        spec_of(network_container=NEW_ID)


@pytest.mark.parametrize(
    "broken",
    [{}, {"Config": {}}, {"HostConfig": {}}, {"Config": None, "HostConfig": {}}],
)
def test_not_an_inspect_result(broken: dict[str, Any]):
    with pytest.raises(ValueError, match="inspect"):
        build_recreate_spec(broken, OLD_IMAGE, NEW_IMAGE, image=REF)
    with pytest.raises(ValueError, match="old_image"):
        build_recreate_spec(CONTAINER, {}, NEW_IMAGE, image=REF)


# --- volumes ---------------------------------------------------------------------------------


def mounts(spec: RecreateSpec) -> dict[str, dict[str, Any]]:
    return {m["Target"]: m for m in spec.body["HostConfig"].get("Mounts") or []}


def test_anonymous_volumes_carried_by_name_named_and_binds_untouched():
    spec = spec_of()
    assert mounts(spec) == {
        "/data": {"Type": "volume", "Source": ANON_DATA, "Target": "/data"},  # image VOLUME
        "/anon": {"Type": "volume", "Source": ANON_USER, "Target": "/anon"},  # -v /anon
    }
    assert spec.body["HostConfig"]["Binds"] == ["/tmp/bind:/bound:ro", "vol:/named"]


def test_anonymous_mount_flag_gets_its_source_and_keeps_options():
    c = copy.deepcopy(PLAIN)
    c["HostConfig"]["Mounts"] = [
        {"Type": "volume", "Target": "/m1", "ReadOnly": True, "VolumeOptions": {"NoCopy": True}},
        {"Type": "volume", "Source": "named", "Target": "/m2"},
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}},
    ]
    c["Mounts"] += [
        {"Type": "volume", "Name": "a" * 64, "Destination": "/m1", "Driver": "local", "RW": False},
        {"Type": "volume", "Name": "named", "Destination": "/m2", "Driver": "local", "RW": True},
        {"Type": "tmpfs", "Source": "", "Destination": "/t", "RW": True},
    ]
    got = mounts(build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF))
    assert got == {
        "/m1": {
            "Type": "volume",
            "Source": "a" * 64,
            "Target": "/m1",
            "ReadOnly": True,
            "VolumeOptions": {"NoCopy": True},
        },
        "/m2": {"Type": "volume", "Source": "named", "Target": "/m2"},
        "/t": {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}},
        "/data": {"Type": "volume", "Source": ANON_DATA, "Target": "/data"},
    }


def test_anonymous_binds_entries_get_the_volume_name():
    c = copy.deepcopy(PLAIN)
    c["HostConfig"]["Binds"] = ["/cache", "/ro:ro", "vol:/named:ro", "/host/dir:/dir"]
    c["Mounts"] += [
        {"Type": "volume", "Name": "c" * 64, "Destination": "/cache", "RW": True},
        {"Type": "volume", "Name": "d" * 64, "Destination": "/ro", "RW": False},
        {"Type": "volume", "Name": "vol", "Destination": "/named", "RW": False},
        {"Type": "bind", "Source": "/host/dir", "Destination": "/dir", "RW": True},
    ]
    spec = build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF)
    assert spec.body["HostConfig"]["Binds"] == [
        f"{'c' * 64}:/cache",
        f"{'d' * 64}:/ro:ro",
        "vol:/named:ro",
        "/host/dir:/dir",
    ]
    assert set(mounts(spec)) == {"/data"}


def test_read_only_and_driver_of_a_carried_volume():
    c = copy.deepcopy(PLAIN)
    c["HostConfig"]["VolumesFrom"] = ["store:ro"]
    c["Mounts"] = [
        {
            "Type": "volume",
            "Name": "e" * 64,
            "Destination": "/shared/",
            "Driver": "nfs",
            "RW": False,
        }
    ]
    assert mounts(build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF)) == {
        "/shared": {
            "Type": "volume",
            "Source": "e" * 64,
            "Target": "/shared",
            "ReadOnly": True,
            "VolumeOptions": {"DriverConfig": {"Name": "nfs"}},
        }
    }


def test_no_volumes_no_mounts_key():
    c = copy.deepcopy(PLAIN)
    c["Mounts"] = []
    assert (
        "Mounts" not in build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF).body["HostConfig"]
    )


# --- networks --------------------------------------------------------------------------------


def test_primary_network_at_create_the_others_after():
    spec = spec_of()
    assert spec.body["NetworkingConfig"] == {
        "EndpointsConfig": {
            "net": {
                "Aliases": ["web"],  # minus the short id and the hostname the engine adds
                "IPAMConfig": {"IPv4Address": "172.31.240.10"},
                "Links": ["other:oth"],
            }
        }
    }
    assert spec.extra_networks == [NetworkAttachment("net2", {"Aliases": ["second", "sec2"]})]


def test_default_bridge():
    spec = spec_of(PLAIN)
    assert spec.body["HostConfig"]["NetworkMode"] == "default"
    assert spec.body["NetworkingConfig"] == {"EndpointsConfig": {"bridge": {}}}
    assert spec.extra_networks == []


def test_network_mode_by_id_and_ipv6_link_local_driver_opts():
    c = copy.deepcopy(CONTAINER)
    c["HostConfig"]["NetworkMode"] = "25d83c84f69f"
    c["NetworkSettings"]["Networks"]["net2"].update(
        IPAMConfig={"IPv6Address": "fd00::10", "LinkLocalIPs": ["169.254.1.1"]},
        DriverOpts={"com.example.opt": "1"},
    )
    spec = build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF)
    assert spec.body["HostConfig"]["NetworkMode"] == "25d83c84f69f"
    assert spec.body["NetworkingConfig"]["EndpointsConfig"] == {
        "net2": {
            "Aliases": ["second", "sec2"],
            "IPAMConfig": {"IPv6Address": "fd00::10", "LinkLocalIPs": ["169.254.1.1"]},
            "DriverOpts": {"com.example.opt": "1"},
        }
    }
    assert [a.network for a in spec.extra_networks] == ["net"]


def test_left_the_network_it_was_created_on():
    c = copy.deepcopy(CONTAINER)
    del c["NetworkSettings"]["Networks"]["net"]  # `docker network disconnect net web`
    spec = build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF)
    assert spec.body["HostConfig"]["NetworkMode"] == "net2"
    assert list(spec.body["NetworkingConfig"]["EndpointsConfig"]) == ["net2"]
    assert spec.extra_networks == []


@pytest.mark.parametrize("mode", ["host", "none"])
def test_host_and_none_have_no_endpoints(mode: str):
    c = copy.deepcopy(PLAIN)
    c["HostConfig"]["NetworkMode"] = mode
    c["NetworkSettings"]["Networks"] = {mode: {"IPAMConfig": None, "Aliases": None}}
    spec = build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF)
    assert spec.body["NetworkingConfig"] == {"EndpointsConfig": {}} and spec.extra_networks == []


# --- create_from_spec ------------------------------------------------------------------------


class FakeAPI:
    """Records the calls create_from_spec makes; fails connecting to `fail_on`."""

    def __init__(self, fail_on: str | None = None, missing: str | None = None) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self.fail_on = fail_on
        self.missing = missing

    def made(self) -> list[str]:
        return [call[0] for call in self.calls if call[0] != "inspect_network"]

    def create_container_from_config(self, config: dict, name: str | None = None) -> dict:
        self.calls.append(("create", config, name))
        return {"Id": NEW_ID, "Warnings": []}

    def connect_container_to_network(self, container: str, net_id: str, **kwargs: Any) -> None:
        self.calls.append(("connect", (container, net_id), kwargs))
        if net_id == self.fail_on:
            raise RuntimeError(f"network {net_id} not found")

    def remove_container(self, container: str, **kwargs: Any) -> None:
        self.calls.append(("remove", container, kwargs))

    def inspect_network(self, net_id: str) -> dict:
        self.calls.append(("inspect_network", net_id, None))
        if net_id == self.missing:
            raise NotFound(f"network {net_id} not found")
        return {"Name": net_id}


def test_create_then_connect_the_extra_networks():
    spec = spec_of()
    api = FakeAPI()
    assert create_from_spec(api, spec) == NEW_ID  # type: ignore[arg-type]
    assert api.calls[0] == ("inspect_network", "net2", None)  # before anything is created
    assert api.calls[1] == ("create", spec.body, "web")
    assert api.calls[2][:2] == ("connect", (NEW_ID, "net2"))
    assert len(api.calls) == 3


def test_a_missing_extra_network_creates_nothing():
    api = FakeAPI(missing="net2")
    with pytest.raises(NotFound):
        create_from_spec(api, spec_of())  # type: ignore[arg-type]
    assert api.made() == []


def test_a_failed_connect_removes_the_new_container_and_reraises():
    c = copy.deepcopy(CONTAINER)
    c["NetworkSettings"]["Networks"]["net3"] = {"Aliases": ["third"]}
    api = FakeAPI(fail_on="net2")
    with pytest.raises(RuntimeError, match="net2"):
        create_from_spec(api, build_recreate_spec(c, OLD_IMAGE, NEW_IMAGE, image=REF))  # type: ignore[arg-type]
    assert api.made() == ["create", "connect", "remove"]
    assert api.calls[-1] == ("remove", NEW_ID, {"force": True, "v": True})


@pytest.mark.parametrize(
    "endpoint",
    [
        {},
        {"Aliases": ["web", "www"]},
        {"IPAMConfig": {"IPv4Address": "172.31.240.10"}, "Links": ["db:db", "other:oth"]},
        {"IPAMConfig": {"IPv6Address": "fd00::10", "LinkLocalIPs": ["169.254.1.1"]}},
        {"DriverOpts": {"com.example.opt": "1"}, "Links": ["solo"]},
    ],
)
def test_connect_sends_the_endpoint_config_unchanged(endpoint: dict[str, Any]):
    api = FakeAPI()
    spec = RecreateSpec("web", {}, [NetworkAttachment("net2", endpoint)])
    create_from_spec(api, spec)  # type: ignore[arg-type]
    kwargs = api.calls[-1][2]
    # What docker-py builds from those arguments is what goes to the engine.
    assert dict(EndpointConfig("1.41", **kwargs)) == endpoint
