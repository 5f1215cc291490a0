"""Which container or image a person means (id, unique id prefix, name or tag), and the
images with the containers using them."""

from __future__ import annotations

import pytest

from watchdocker.engine.inventory import (
    AmbiguousId,
    NoSuchObject,
    find_container,
    find_image,
    image_entries,
    live_containers,
)

ID_A = "abc123" + "0" * 58
ID_B = "abd456" + "1" * 58
ID_C = "ff" + "2" * 62


def summary(cid: str, name: str, state: str = "running", image_id: str = "sha256:i1") -> dict:
    return {
        "Id": cid,
        "Names": [f"/{name}"],
        "Image": "app:1",
        "ImageID": image_id,
        "State": state,
        "Created": 100,
    }


CONTAINERS = live_containers(
    [
        summary(ID_A, "web"),
        summary(ID_B, "db", "exited", "sha256:i2"),
        summary(ID_C, "abc"),  # a name that is also a prefix of another's id
        summary("e" * 64, "web-watchdocker-old-0123456789ab"),  # set aside by an update
    ]
)


def test_set_aside_containers_are_not_listed():
    assert [c.name for c in CONTAINERS] == ["abc", "db", "web"]
    assert CONTAINERS[1].running is False and CONTAINERS[1].state == "exited"


@pytest.mark.parametrize(
    ("given", "name"),
    [("web", "web"), ("/db", "db"), (ID_A, "web"), ("abd", "db"), ("abc", "abc"), ("ff2", "abc")],
)
def test_a_container_by_name_full_id_or_unique_prefix(given: str, name: str):
    assert find_container(CONTAINERS, given).name == name


def test_an_ambiguous_prefix_names_the_candidates():
    with pytest.raises(AmbiguousId) as raised:
        find_container(CONTAINERS, "ab")
    assert str(raised.value) == (
        "container id prefix 'ab' matches 2 containers (db, web): give more of the id, or the name"
    )


@pytest.mark.parametrize("given", ["nothing", "", "0", "eee"])
def test_no_match_says_what_to_give(given: str):
    with pytest.raises(NoSuchObject) as raised:
        find_container(CONTAINERS, given)
    assert "give an id, a unique id prefix or a name" in str(raised.value)


IMAGES = image_entries(
    [
        {"Id": "sha256:i1", "RepoTags": ["app:1", "app:latest"], "Size": 10, "Created": 0},
        {"Id": "sha256:i2", "RepoTags": ["host:5000/db:latest"], "Size": 20, "Created": 86400},
        {"Id": "sha256:i3aa", "RepoTags": ["<none>:<none>"], "Size": 5, "Created": 0},
        {"Id": "sha256:i3ab", "RepoTags": None, "Size": 5, "Created": 0},
    ],
    CONTAINERS,
)


def test_images_list_their_tags_and_users():
    by_id = {i.id: i for i in IMAGES}
    assert by_id["sha256:i1"].inUseBy == ["abc", "web"]
    assert by_id["sha256:i2"].inUseBy == ["db"]
    assert by_id["sha256:i2"].created == "1970-01-02T00:00:00+00:00"
    assert by_id["sha256:i3aa"].tags == [] and by_id["sha256:i3aa"].inUseBy == []


@pytest.mark.parametrize(
    ("given", "image_id", "tag"),
    [
        ("app:1", "sha256:i1", "app:1"),
        ("app", "sha256:i1", "app:latest"),  # a name without tag is name:latest
        ("host:5000/db", "sha256:i2", "host:5000/db:latest"),
        ("sha256:i2", "sha256:i2", None),
        ("i3ab", "sha256:i3ab", None),  # a unique prefix, without sha256:
        ("sha256:i3aa", "sha256:i3aa", None),
    ],
)
def test_an_image_by_tag_id_or_prefix(given: str, image_id: str, tag: str | None):
    image, named_by = find_image(IMAGES, given)
    assert (image.id, named_by) == (image_id, tag)


def test_an_ambiguous_image_prefix_and_an_unknown_image():
    with pytest.raises(AmbiguousId, match="matches 2 images"):
        find_image(IMAGES, "i3a")
    with pytest.raises(NoSuchObject, match=r"no image 'app:2'.* or a tag"):
        find_image(IMAGES, "app:2")
