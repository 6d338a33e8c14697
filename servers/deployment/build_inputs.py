"""What a Dockerfile would fetch from outside the build context, read before the engine sees it.

`docker_build` runs its steps without network, but the engine itself still pulls a missing `FROM`
image (or a `COPY --from=<image>`) and downloads `ADD <url>` sources. Those are the build's outbound
fetches: this module lists them (with `ARG` defaults substituted, stage names left out) so the
policy can refuse a registry or URL it does not allow.
"""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass, field
from typing import Final

from dockerfile_parse import DockerfileParser

from shared.errors import InvalidArgument

__all__ = ["BuildInputs", "build_inputs"]

_URL_SOURCE: Final = re.compile(r"^(?:https?|git|ssh)://|^git@", re.IGNORECASE)
_VARIABLE: Final = re.compile(r"\$\{?[A-Za-z_]")
_MAX_DOCKERFILE_BYTES: Final = 1_000_000


@dataclass(frozen=True)
class BuildInputs:
    """Images the build may pull and URLs it may download."""

    images: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


def build_inputs(dockerfile: str) -> BuildInputs:
    """The images (`FROM`, `COPY --from=`) and URLs (`ADD`) a Dockerfile reaches outside its context.

    Raises:
        InvalidArgument: the Dockerfile is too large, or an image reference depends on a variable
            with no default (it cannot be checked before the build).
    """
    if len(dockerfile.encode()) > _MAX_DOCKERFILE_BYTES:
        raise InvalidArgument("the Dockerfile is larger than 1 MB")
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode()))
    stages: set[str] = set()
    images: list[str] = []
    urls: list[str] = []
    parents = iter(parser.parent_images)  # FROM images with ARG defaults substituted, in order
    for instruction in parser.structure:
        name, value = instruction["instruction"], str(instruction["value"])
        words = _split(value)
        if name == "FROM":
            image = next(parents, words[0] if words else "")
            if len(words) >= 3 and words[-2].lower() == "as":
                stages.add(words[-1].lower())
            if image.lower() not in stages and image != "scratch":
                images.append(_literal(image, "FROM"))
        elif name in ("COPY", "ADD"):
            for word in words:
                if word.startswith("--from="):
                    source = word.removeprefix("--from=")
                    if source.lower() not in stages and not source.isdigit():
                        images.append(_literal(source, f"{name} --from"))
            if name == "ADD":
                urls += [w for w in words if not w.startswith("--") and _URL_SOURCE.match(w)]
    return BuildInputs(images=list(dict.fromkeys(images)), urls=list(dict.fromkeys(urls)))


def _split(value: str) -> list[str]:
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def _literal(image: str, where: str) -> str:
    if _VARIABLE.search(image):
        raise InvalidArgument(
            f"{where} image {image[:120]!r} depends on a build argument with no default; write the image "
            "literally (or give the ARG a default) so it can be checked before the build"
        )
    return image
