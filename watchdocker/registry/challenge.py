"""`WWW-Authenticate` challenges (RFC 7235) as registries send them."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    scheme: str  # lower case: "bearer", "basic"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge of a header, or None when there is none to parse."""
    match = re.match(r"\s*([A-Za-z][A-Za-z0-9_-]*)(.*)", header or "", re.S)
    if not match:
        return None
    params: dict[str, str] = {}
    rest = match[2]
    while rest.strip():
        param = _PARAM.match(rest)
        if not param:
            break
        value = param[2] if param[2] is not None else param[3]
        params[param[1].lower()] = re.sub(r"\\(.)", r"\1", value)
        rest = rest[param.end() :]
    return Challenge(match[1].lower(), params)
