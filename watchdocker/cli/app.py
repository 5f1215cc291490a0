"""`watch-docker`: the command line. Prefect is imported only inside commands, after
`prepare_environment` has given it the embedded defaults."""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from watchdocker.cli.compose import compose_app
from watchdocker.cli.options import ConfigOption, JsonOption, VerboseOption
from watchdocker.cli.preconditions import fail, settings_or_exit, with_api
from watchdocker.cli.totp import totp_app
from watchdocker.config import Settings

if TYPE_CHECKING:
    import socket

    from watchdocker.api.listen import ListenAddress
    from watchdocker.cli.serve_client import ServeApi
    from watchdocker.container_status import ScanReport
    from watchdocker.update.plan import UpdateReport

T = TypeVar("T")

app = typer.Typer(
    name="watch-docker",
    help="Keep Docker containers on their newest images, safely, as Prefect flows.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Keep Docker containers on their newest images, safely, as Prefect flows."""


def _print_scan_table(report: ScanReport) -> None:
    from watchdocker.cli.tables import print_rows
    from watchdocker.report_rows import SCAN_COLUMNS, scan_rows

    rows = scan_rows(report.containers)
    print_rows("watch-docker scan", rows, SCAN_COLUMNS, report.summary)


def _run_flow(
    settings: Settings,
    verbose: bool,
    flow_name: str,
    result_type: type[T],
    known_names: list[str] | None = None,
    **parameters: object,
) -> T:
    """Run a flow of watchdocker.flows against the Prefect API (embedded default: a local
    server); returns its result, a `result_type`, or exits with one line saying why it could
    not run: no engine, or (before any server starts) no container of one of `known_names`."""
    from watchdocker.deployments.prefect_env import (
        ServerUnavailable,
        prefect_api,
        prepare_environment,
    )

    prepare_environment(settings, console_level="INFO" if verbose else "CRITICAL")
    from watchdocker.engine.client import EngineUnavailable, connect
    from watchdocker.engine.discovery import service_names
    from watchdocker.update.plan import UnknownContainers, require_known

    try:
        engine = connect(settings.docker.host)
    except EngineUnavailable as exc:
        raise fail(str(exc)) from None
    try:
        if known_names:
            require_known(known_names, service_names(engine))
    except UnknownContainers as exc:
        raise fail(str(exc)) from None
    finally:
        engine.close()
    try:
        with prefect_api(settings):
            from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

            import watchdocker.flows as flows

            flow = getattr(flows, flow_name)
            # A run in this process ends with it: no heartbeat to detect a crash, and its
            # thread would hold the end of every run until the next whole second.
            with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
                state = flow(**parameters, return_state=True)
            result = state.result(raise_on_failure=False)
    except ServerUnavailable as exc:
        raise fail(str(exc)) from None
    if isinstance(result, BaseException) or not state.is_completed():
        raise fail(f"the {flow_name.replace('_', '-')} run failed: {result}")
    if not isinstance(result, result_type):
        raise fail(f"the {flow_name.replace('_', '-')} run gave no {result_type.__name__}")
    return result


@app.command()
def scan(
    config: ConfigOption = None,
    json_output: JsonOption = False,
    include_stopped: Annotated[
        bool | None,
        typer.Option("--include-stopped/--running-only", help="check stopped containers too"),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Tell, for every container, whether its registry has a newer image. Through serve's API
    when serve runs; else in this process (not recorded in Prefect) unless PREFECT_API_URL names
    a server to run the flow against."""
    from watchdocker.cli.serve_client import serve_of

    settings = settings_or_exit(config)
    serve_api, other_settings = serve_of(settings)
    if serve_api is not None:
        stopped_too = (
            settings.docker.include_stopped if include_stopped is None else include_stopped
        )
        report = _scan_through(serve_api, stopped_too)
    elif os.environ.get("PREFECT_API_URL"):
        from watchdocker.container_status import ScanReport

        report = _run_flow(
            settings,
            verbose,
            "scan",
            ScanReport,
            include_stopped=include_stopped,
            config_file=str(config) if config else None,
        )
    else:
        report = _scan_here(settings, include_stopped, verbose, other_settings)
    if json_output:
        print(json.dumps({"containers": [c.model_dump() for c in report.containers]}, indent=2))
    else:
        _print_scan_table(report)


def _scan_through(serve_api: ServeApi, include_stopped: bool) -> ScanReport:
    """A run of serve's `scan` deployment, through its API: the containers it scanned."""
    from watchdocker.cli.serve_client import ServeError
    from watchdocker.container_status import ContainerStatus, ScanReport

    params = {"refresh": "true", "includeStopped": str(include_stopped).lower()}
    try:
        found = serve_api.call("GET", "/api/containers", params=params)
    except ServeError as exc:
        raise fail(str(exc)) from None
    # A container created while the scan ran is listed as `unknown`: not part of this scan.
    scanned = [c for c in found["containers"] if c["status"] != "unknown"]
    return ScanReport(containers=[ContainerStatus.model_validate(c) for c in scanned])


def _scan_here(
    settings: Settings, include_stopped: bool | None, verbose: bool, other_settings: str | None
) -> ScanReport:
    """The scan in this process, without Prefect: read-only, so no server is started for it."""
    from watchdocker.engine.client import EngineUnavailable
    from watchdocker.local_scan import scan_here

    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        report = scan_here(settings, include_stopped)
    except EngineUnavailable as exc:
        raise fail(str(exc)) from None
    print(
        f"watch-docker: {other_settings or 'no serve runs'}: scanned in this process, "
        "not recorded in Prefect",
        file=sys.stderr,
    )
    return report


@app.command()
def update(
    names: Annotated[list[str] | None, typer.Argument(help="containers to update")] = None,
    all_outdated: Annotated[
        bool, typer.Option("--all", help="every container with an update that policy allows")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print the plan, change nothing")
    ] = False,
    require_approval: Annotated[
        bool, typer.Option("--require-approval", help="wait for an approver's TOTP code first")
    ] = False,
    config: ConfigOption = None,
    json_output: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Pull, recreate, health-check, and roll back on failure (through serve's API when serve
    runs). Exit 1 when any update failed or was rolled back, or a named container does not
    exist (then nothing is scanned)."""
    from watchdocker.cli.serve_client import serve_of
    from watchdocker.update.plan import UpdateReport

    if bool(names) == all_outdated:
        raise fail("name the containers to update, or give --all (not both)", 2)
    settings = settings_or_exit(config)
    serve_api, other_settings = serve_of(settings)
    if other_settings:
        print(f"watch-docker: {other_settings}: updating in this process", file=sys.stderr)
    if serve_api is not None:
        body = {
            "names": names or [],
            "all": all_outdated,
            "dryRun": dry_run,
            "requireApproval": require_approval,
        }
        report = _update_through(serve_api, body, ask=sys.stdin.isatty() and not json_output)
    else:
        if sys.stdin.isatty() and not json_output:
            from watchdocker.cli.prompt import prompt_for_approvals

            prompt_for_approvals()
        report = _run_flow(
            settings,
            verbose,
            "update",
            UpdateReport,
            known_names=names,
            containers=names or None,
            all=all_outdated,
            dry_run=dry_run,
            require_approval=require_approval,
            config_file=str(config) if config else None,
        )
    if json_output:
        print(json.dumps({"results": [r.model_dump() for r in report.results]}, indent=2))
    else:
        from watchdocker.cli.tables import print_rows
        from watchdocker.report_rows import UPDATE_COLUMNS, update_rows

        title = "watch-docker update" + (" (dry run)" if dry_run else "")
        print_rows(title, update_rows(report.results), UPDATE_COLUMNS, report.summary)
    if not report.ok:
        raise typer.Exit(1)


def _update_through(serve_api: ServeApi, body: dict[str, object], ask: bool) -> UpdateReport:
    """A run of serve's `update` deployment, through its API: its results, also when some
    failed; one line and exit 1 when it could not run. A run that waits for an approver is
    asked for the code here when `ask` (a terminal), as the in-process path does."""
    from watchdocker.api.codes import Code
    from watchdocker.cli.prompt import read_answer
    from watchdocker.cli.serve_client import ServeError
    from watchdocker.update.plan import UpdateReport

    attempt = 0
    method, path = "POST", "/api/updates/run"
    sent: dict[str, object] | None = body
    while True:
        try:
            done = serve_api.call(method, path, body=sent)
        except ServeError as exc:
            data = exc.data if isinstance(exc.data, dict) else {}
            answer = None
            if exc.code == Code.APPROVAL_NEEDED and ask:
                attempt += 1
                answer = read_answer(str(data["flowRunId"]), attempt)
            if answer is not None:
                run = data["flowRunId"]
                _answer_through(serve_api, run, answer.approver, answer.code, answer.reject)
                method, path, sent = "GET", f"/api/updates/{run}", None
                continue
            if exc.code != Code.UPDATE_FAILED or "results" not in data:
                raise fail(str(exc)) from None
            done = data
        return UpdateReport.model_validate(done)


def _answer_through(serve_api: ServeApi, run: str, approver: str, code: str, reject: bool) -> None:
    """An approval's answer through serve's API; its verdict said (a refused code is said too:
    the run asks again while it has attempts left)."""
    from watchdocker.cli.prompt import say_verdict
    from watchdocker.cli.serve_client import ServeError

    body = {"approver": approver, "code": code, "reject": reject}
    try:
        verdict = serve_api.call("POST", f"/api/updates/{run}/approve", body=body)
    except ServeError as exc:
        if not isinstance(exc.data, dict) or "outcome" not in exc.data:
            raise fail(str(exc)) from None
        verdict = exc.data
    say_verdict(verdict)


@app.command()
def approvals(config: ConfigOption = None, json_output: JsonOption = False) -> None:
    """List the update runs waiting for approval."""
    settings = settings_or_exit(config)
    pending = with_api(
        settings,
        lambda: __import__(
            "watchdocker.deployments.approvals", fromlist=["pending_approvals"]
        ).pending_approvals(),
    )
    if json_output:
        print(json.dumps({"approvals": [p.model_dump() for p in pending]}, indent=2))
        return
    from watchdocker.cli.tables import print_approvals

    print_approvals(pending)


@app.command()
def approve(
    run_id: Annotated[str, typer.Argument(help="the flow run waiting for approval")],
    code: Annotated[
        str, typer.Option("--code", help="the 6-digit code of your authenticator")
    ] = "",
    approver: Annotated[str, typer.Option("--approver", help="your name, as enrolled")] = "default",
    reject: Annotated[
        bool, typer.Option("--reject", help="reject with your code: nothing changes")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Answer an update run that waits for approval: approve it, or reject it, with your code.
    Exit 1 when the code was refused."""
    if not code:
        raise fail("give --code CODE: approving and rejecting both need your code", 2)
    settings = settings_or_exit(config)

    def answer() -> dict:
        from watchdocker.deployments.approvals import NotWaiting, answer_approval

        try:
            return answer_approval(run_id, approver, code, reject)
        except NotWaiting as exc:
            raise fail(str(exc)) from None

    verdict = with_api(settings, answer)
    print(f"{verdict['outcome'].replace('_', ' ')}: {verdict['reason']}")
    if verdict["outcome"] != ("rejected" if reject else "approved"):  # refused, or no effect
        raise typer.Exit(1)


@app.command()
def recover(config: ConfigOption = None) -> None:
    """Finish or undo updates that a killed process left half-done (every flow does this
    first too)."""
    settings = settings_or_exit(config)
    from watchdocker.engine.client import EngineUnavailable
    from watchdocker.flows.clients import engine_for, updater_for

    try:
        engine = engine_for(settings)
    except EngineUnavailable as exc:
        raise fail(str(exc)) from None
    try:
        recovered = updater_for(settings, engine).recover()
    finally:
        engine.close()
    for item in recovered:
        if item.outcome == "failed":
            print(f"{item.name}: recovery failed, try again later: {item.reason}", file=sys.stderr)
        else:
            print(f"{item.name}: interrupted update {item.outcome.replace('_', ' ')}")
    if not recovered:
        print("nothing to recover")
    if any(item.outcome == "failed" for item in recovered):
        raise typer.Exit(1)


@app.command()
def serve(config: ConfigOption = None) -> None:
    """The main job: serve the scan, update and auto-update deployments on their schedules,
    with a local Prefect server and UI unless PREFECT_API_URL names one. Ctrl-C stops it."""
    # A stop asked for while serve starts (before Prefect's runner takes SIGTERM over) ends it
    # as cleanly as one asked for later: what it started is stopped on the way out.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # `kill -USR1` prints every thread's stack to stderr: what a stop that hangs waits for.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    settings = settings_or_exit(config)
    from watchdocker.deployments.prefect_env import (
        ServerUnavailable,
        prefect_api,
        prefect_home,
        prepare_environment,
        ui_login_hint,
    )
    from watchdocker.deployments.server_services import SERVER_LOG

    prepare_environment(settings, console_level="INFO")
    # Bound before the Prefect server starts: a taken or refused address stops serve at once.
    address, api_socket = _bind_api(settings)
    # The embedded server writes its log where serve can watch it for failing services.
    embedded = not os.environ.get("PREFECT_API_URL")
    server_log = prefect_home(settings) / SERVER_LOG if embedded else None
    try:
        # The local server runs in this process: one interpreter's imports, not two.
        with prefect_api(settings, notice=False, in_process=True) as api_url:
            from watchdocker.api.app import create_app
            from watchdocker.api.context import ApiContext
            from watchdocker.api.server import ApiServer
            from watchdocker.deployments.serving import serve_deployments
            from watchdocker.engine.client import connect_or_later

            config_file = str(config) if config else None
            # The engine may be down at start: serve says so and keeps serving (outage_watch).
            engine = connect_or_later(settings.docker.host)
            from watchdocker.auth.local_credential import local_credential

            credential = local_credential(settings.state_dir)
            context = ApiContext(settings, config_file, api_url, engine, credential)
            api = ApiServer(create_app(context), address, api_socket, settings)
            ui = api_url.removesuffix("/api")
            print(f"watch-docker: Prefect UI at {ui}{ui_login_hint(settings, api_url)}", flush=True)
            print(f"watch-docker: API at {address.url} (docs: {address.url}/docs)", flush=True)
            if address.note:
                print(f"watch-docker: {address.note}", flush=True)
            serve_deployments(settings, config_file, api_url, server_log, companions=[api])
    except ServerUnavailable as exc:
        raise fail(str(exc)) from None


def _exit_cleanly(signum: int, frame: object) -> None:
    sys.exit(0)


def _bind_api(settings: Settings) -> tuple[ListenAddress, socket.socket]:
    """The API's address and its bound socket, or exit with one line saying why not."""
    from watchdocker.api.listen import ListenRefused, listen_address
    from watchdocker.api.server import ApiUnavailable, bind

    try:
        address = listen_address(settings)
        return address, bind(address)
    except ListenRefused as exc:
        raise fail(str(exc), 2) from None
    except ApiUnavailable as exc:
        raise fail(str(exc)) from None


@app.command()
def deployments(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")] = Path(
        "prefect.yaml"
    ),
    hosts: Annotated[
        list[str] | None,
        typer.Option("--host", help="a Docker host with its own worker and work queue (repeat)"),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write prefect.yaml (deployments for a process work pool) from the settings."""
    from watchdocker.deployments.specs import deployment_specs, for_hosts, render_prefect_yaml

    specs = for_hosts(deployment_specs(settings_or_exit(config)), hosts or [])
    output.write_text(render_prefect_yaml(specs))
    print(f"wrote {output}")


app.add_typer(totp_app, name="totp")
app.add_typer(compose_app, name="compose")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
