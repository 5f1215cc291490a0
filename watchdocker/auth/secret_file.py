"""A secret made once and kept in a file of mode 0600 (in a folder of mode 0700): the Prefect
server's credential, the API's signing key, the CLI's local credential."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path


def private_folder(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # a folder someone else gave us: theirs
        folder.chmod(0o700)
    return folder


def secret_file(path: Path, make: Callable[[], str]) -> str:
    """The secret in `path`, made by `make` and written there first if the file is missing.
    Two callers at once (processes or threads) both get the one that was written first."""
    if not path.exists():
        private_folder(path.parent)
        # A draft of its own per caller (threads of one process share a pid).
        draft = path.parent / f".{path.name}.{secrets.token_hex(8)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(make() + "\n")
        try:
            os.link(draft, path)  # atomic: of two first callers at once, one secret wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def write_private(path: Path, text: str) -> None:
    """`text` in `path` (0600), replaced atomically."""
    private_folder(path.parent)
    draft = path.parent / f".{path.name}.{secrets.token_hex(8)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(draft, path)
