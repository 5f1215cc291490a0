"""`watch-docker totp`: enroll an approver's authenticator app, and check a code.

`watchdocker.cli.app` imports this module to register it, so nothing of `app` is imported here
at import time: under `python -m watchdocker.cli.app` that would import `app` a second time
while this module is half-initialised. The commands import what they share with it."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from watchdocker.cli.options import ConfigOption
from watchdocker.cli.preconditions import fail, settings_or_exit, with_api

totp_app = typer.Typer(
    name="totp",
    help="TOTP secrets of the approvers who answer update approvals with a code.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# The block is saved as `totp-<name>`, and block document names allow only these.
_BLOCK_NAME_PART = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def block_name(approver: str) -> str:
    return f"totp-{approver}"


@totp_app.callback()
def _root() -> None:
    """TOTP secrets of the approvers who answer update approvals with a code."""


@totp_app.command()
def enroll(
    name: Annotated[str, typer.Argument(help="approver name")] = "default",
    force: Annotated[
        bool, typer.Option("--force", help="replace the approver's existing secret")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Make a new secret for an approver, save it as the Prefect block `totp-<name>`, and show
    it once, as a QR code and an otpauth:// URI, for their authenticator app."""

    if not _BLOCK_NAME_PART.fullmatch(name):
        raise fail(
            f"approver name {name!r} must be lowercase letters, digits and inner dashes "
            "(it names the Prefect block totp-<name>)",
            2,
        )
    settings = settings_or_exit(config)
    if name in settings.twofa.users:
        # The configuration wins over a block: this enrollment would never be used.
        raise fail(
            f"approver {name!r} has a secret in the configuration (twofa.users or "
            "WATCH_TOTP_SECRET), which wins over a block; remove it there to enroll",
            2,
        )
    secret = with_api(settings, lambda: _save_new_secret(name, force))
    _show_enrollment(name, secret)


def _save_new_secret(name: str, force: bool) -> str:
    """A new secret saved as block `totp-<name>`; exits when the block exists (without
    `force`) or another block holds the approver."""
    from pydantic import SecretStr

    from watchdocker.auth.totp import generate_secret
    from watchdocker.blocks import saved_blocks
    from watchdocker.blocks.totp import TotpSecret

    document = block_name(name)
    for other, existing in saved_blocks(TotpSecret):
        if other == document and not force:
            raise fail(f"approver {name!r} is enrolled already (block {other}); --force replaces")
        if other != document and existing.approver == name:
            raise fail(f"block {other} holds approver {name!r} already; delete it to enroll")
    secret = generate_secret()
    block = TotpSecret(approver=name, secret=SecretStr(secret))
    try:
        block.save(document, overwrite=force)
    except ValueError:
        # Prefect refuses an existing name without overwrite: a block created since the check
        # above, or one too broken for saved_blocks to load.
        raise fail(
            f"approver {name!r} is enrolled already (block {document}); --force replaces"
        ) from None
    return secret


def _show_enrollment(name: str, secret: str) -> None:
    from watchdocker.auth.totp import provisioning_uri, qr_text

    uri = provisioning_uri(secret, name)
    # Straight to the terminal, never through logging: this is the one time the secret shows.
    print(qr_text(uri), end="")
    print(uri)
    print("key: " + " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)))
    print(
        f"Scan the QR code (or enter the key) in an authenticator app; it is not shown again. "
        f"Check it with: watch-docker totp verify <code> --approver {name}",
        file=sys.stderr,
    )


@totp_app.command()
def verify(
    code: Annotated[str, typer.Argument(help="the 6-digit code the authenticator shows")],
    approver: Annotated[
        str, typer.Option("--approver", "-a", help="whose secret to check against")
    ] = "default",
    config: ConfigOption = None,
) -> None:
    """Check a code against an approver's secret (configuration or block). Exit 0 when it is
    valid now, 1 when not. The code is not used up: an approval still accepts it."""

    settings = settings_or_exit(config)
    from watchdocker.deployments.prefect_env import prepare_environment

    prepare_environment(settings)
    from watchdocker.auth.totp import TotpError, matching_step
    from watchdocker.blocks.totp import approver_secrets

    # The configuration wins over blocks: when it has the approver, no server is needed.
    secret = approver_secrets(settings, include_blocks=False).get(approver)
    if secret is None:
        secret = with_api(settings, lambda: approver_secrets(settings).get(approver))
    if secret is None:
        raise fail(
            f"no TOTP secret for approver {approver!r}: enroll one with "
            f"`watch-docker totp enroll {approver}` or set twofa.users",
            2,
        )
    try:
        step = matching_step(secret.get_secret_value(), code)
    except TotpError as exc:
        raise fail(f"the secret of approver {approver!r} is unusable: {exc}", 2) from None
    if step is None:
        raise fail("wrong code")
    print(f"code valid for {approver}")
