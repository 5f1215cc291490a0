"""`/api/images`: the engine's images with the containers using them, and removal of one
that no container (running or not) uses."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from watchdocker.api.codes import Code
from watchdocker.api.context import ApiContext
from watchdocker.api.deps import Context, FullUser
from watchdocker.api.engine_errors import docker_errors
from watchdocker.api.responses import ApiError, BaseRes, ok
from watchdocker.engine.inventory import ImageEntry, find_image, image_entries, live_containers

router = APIRouter(prefix="/api", tags=["images"])


class ImageToDelete(BaseModel):
    id: str | None = None  # an id, a unique id prefix or a tag (`name` is `name:latest`)


def _images(context: ApiContext) -> list[ImageEntry]:
    api = context.engine.api
    return image_entries(api.images(), live_containers(api.containers(all=True)))


@router.get("/images")
def list_images(_: FullUser, context: Context) -> BaseRes:
    with docker_errors(Code.IMAGE_NOT_FOUND):
        return ok([image.model_dump() for image in _images(context)])


@router.delete("/images")
def delete_image(_: FullUser, context: Context, body: ImageToDelete | None = None) -> BaseRes:
    """Named by tag, only that tag goes (the image with it when it was the last); named by
    id, the image and all its tags. Refused while any container uses it."""
    given = (body.id or "").strip() if body else ""
    if not given:
        raise ApiError(
            Code.IMAGE_REQUIRED, 'name the image to delete: {"id": "<id, id prefix or tag>"}'
        )
    with docker_errors(Code.IMAGE_NOT_FOUND):
        image, tag = find_image(_images(context), given)
        if image.inUseBy:
            raise ApiError(
                Code.IMAGE_IN_USE,
                f"{given} is used by {', '.join(image.inUseBy)}: remove those containers first",
            )
        # By id, every tag goes with it (Docker wants force for an image of several tags).
        answers = context.engine.api.remove_image(tag or image.id, force=tag is None)
    untagged = [a["Untagged"] for a in answers if "Untagged" in a]
    deleted = [a["Deleted"] for a in answers if "Deleted" in a]
    return ok({"id": image.id, "untagged": untagged, "deleted": deleted})
