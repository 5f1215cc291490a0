"""`watch-docker totp`: enroll an approver's authenticator app, and check a code.

`watchdocker.cli.app` imports this module to register it, so nothing of `app` is imported here
at import time: under `python -m watchdocker.cli.app` that would import `app` a second time
while this module is half-initialised. The commands import what they share with it."""

from __future__ import annotations

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

    settings = settings_or_exit(config)
    from watchdocker.blocks.totp import NotEnrollable, check_enrollable

    try:
        check_enrollable(name, settings)
    except NotEnrollable as exc:
        raise fail(str(exc), 2) from None
    secret = with_api(settings, lambda: _save_new_secret(name, force))
    _show_enrollment(name, secret)


def _save_new_secret(name: str, force: bool) -> str:
    """A new secret saved as block `totp-<name>`; exits when that cannot be."""
    from watchdocker.auth.totp import generate_secret
    from watchdocker.blocks.totp import EnrolmentError, save_secret

    secret = generate_secret()
    try:
        save_secret(name, secret, force)
    except EnrolmentError as exc:
        raise fail(str(exc)) from None
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
