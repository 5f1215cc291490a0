"""Settings: `config.yaml` (the original design's keys) overridden by `WATCH_*` environment
variables.

Every setting has one YAML key and one environment name; `ENV_VARS` is the single table of the
latter, so the README and the loader cannot drift apart (a unit test checks the README).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from watchdocker.auth.passwords import PasswordHashError, hash_kind
from watchdocker.auth.signing_key import check_signing_key
from watchdocker.auth.totp import TotpError, validate_secret
from watchdocker.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _split_list(value: object) -> object:
    # Environment variables carry lists as comma-separated text.
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


StrList = Annotated[list[str], BeforeValidator(_split_list)]


class ConfigError(Exception):
    """A configuration problem; the message names the key (and env variable) and the bad value."""


_CRON_FIELDS = "minute hour day-of-month month day-of-week"


def _cron(value: str) -> str:
    """A standard 5-field cron expression that can fire, in the dialect Prefect's scheduler
    runs. cronsim (a dependency of Prefect's) parses it without importing Prefect, which the
    CLI must not do before it has set Prefect's environment."""
    fields = value.split()
    if len(fields) != 5:
        raise ValueError(f"not a cron expression: {len(fields)} field(s), not 5 ({_CRON_FIELDS})")
    try:
        CronSim(value, datetime(2000, 1, 1))
    except CronSimError as exc:
        # cronsim says e.g. "Bad day-of-month", also for days no month has (31 2 *).
        raise ValueError(f"not a cron expression: {str(exc).lower()} ({_CRON_FIELDS})") from None
    _, _, day_of_month, _, day_of_week = (field.upper() for field in fields)
    if "W" in day_of_month or re.search(r"\dL", day_of_week):
        # cronsim knows these; the croniter of Prefect's scheduler does not.
        raise ValueError(
            "Prefect's scheduler has no W (nearest weekday) nor <weekday>L (last in month)"
        )
    return " ".join(fields)


CronExpression = Annotated[str, AfterValidator(_cron)]


def _longer_than_zero(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _host_port(value: str, example: str) -> str:
    _, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port (example: {example})")
    return value


class _Address(_Section):
    addr: str

    @property
    def host(self) -> str:
        """The host as written (empty when none was, for server.addr)."""
        return self.addr.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.addr.rpartition(":")[2])


class ServerConfig(_Address):
    """The HTTP API (`watchdocker.api`), served by `watch-docker serve`."""

    addr: str = Field(
        ":8080",
        description="host:port of the HTTP API; no host: every interface once a user is "
        "configured, loopback until then",
    )
    cors_origins: StrList = Field(
        default_factory=list,
        alias="corsOrigins",
        description="origins allowed to call the API from a browser (none: CORS off)",
    )

    @field_validator("addr")
    @classmethod
    def _addr(cls, value: str) -> str:
        return _host_port(value, ":8080")


class PrefectConfig(_Address):
    """The local Prefect server and UI that `serve` starts when PREFECT_API_URL names none."""

    addr: str = Field("127.0.0.1:4200", description="host:port of the local Prefect server and UI")

    @field_validator("addr")
    @classmethod
    def _addr(cls, value: str) -> str:
        _host_port(value, "127.0.0.1:4200")
        return value if value.rpartition(":")[0] else f"127.0.0.1:{value.rpartition(':')[2]}"

    # How long the embedded server keeps events and finished runs
    # (watchdocker.deployments.server_retention).
    event_retention: Duration = Field(timedelta(days=1), alias="eventRetention")
    run_retention: Duration = Field(timedelta(days=7), alias="runRetention")

    @field_validator("event_retention", "run_retention")
    @classmethod
    def _at_least_an_hour(cls, value: timedelta) -> timedelta:
        # Prefect cleans its database hourly and keeps a flow run at least an hour.
        if value < timedelta(hours=1):
            raise ValueError("must be at least 1h (the server cleans up hourly)")
        return value


class AuthConfig(_Section):
    """The API's user (seed: USER_NAME, USER_PASSWORD), the second factor and the tokens."""

    username: str | None = Field(None, description="the user who logs in to the API")
    password: SecretStr | None = Field(None, description="their password, in clear")
    password_hash: SecretStr | None = Field(
        None, alias="passwordHash", description="or its argon2 or bcrypt hash"
    )
    secondary_verification: bool = Field(
        False, alias="secondaryVerification", description="ask a second factor at login"
    )
    allowed_domains: StrList = Field(
        default_factory=list,
        alias="allowedDomains",
        description="hosts 2FA requests may come to (none: any)",
    )
    jwt_secret: SecretStr | None = Field(
        None,
        alias="jwtSecret",
        description="key that signs tokens; default: one made once under the state directory",
    )
    login_attempts: int = Field(
        5, ge=1, le=100, alias="loginAttempts", description="failures that lock a user or address"
    )
    login_lockout: Duration = Field(
        timedelta(minutes=15),
        alias="loginLockout",
        description="the window those failures count in, and how long the lock lasts",
    )

    _positive = field_validator("login_lockout")(_longer_than_zero)

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_signing_key(value.get_secret_value())
        return value

    @field_validator("password_hash")
    @classmethod
    def _known_hash(cls, value: SecretStr | None) -> SecretStr | None:
        # Refused at start rather than at the first login; the message never quotes the hash.
        if value is not None:
            try:
                hash_kind(value.get_secret_value())
            except PasswordHashError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _complete(self) -> AuthConfig:
        if self.password is not None and self.password_hash is not None:
            raise ValueError(
                "auth.password (USER_PASSWORD) and auth.passwordHash (USER_PASSWORD_HASH) "
                "are both set: choose one"
            )
        has_secret = self.password is not None or self.password_hash is not None
        if self.username and not has_secret:
            raise ValueError(
                "auth.username (USER_NAME) is set without a password: set USER_PASSWORD "
                "or USER_PASSWORD_HASH"
            )
        if has_secret and not self.username:
            raise ValueError("a password is set without auth.username (USER_NAME)")
        return self

    @property
    def user_configured(self) -> bool:
        return bool(self.username)


class DockerConfig(_Section):
    host: str | None = Field(
        None, description="Docker engine URL; default DOCKER_HOST or the socket"
    )
    include_stopped: bool = Field(False, alias="includeStopped")


# A shorter schedule only queues runs behind each other (a scan takes seconds) and floods the
# database with runs and events.
MIN_SCAN_INTERVAL = timedelta(seconds=10)


class ScanConfig(_Section):
    interval: Duration | None = None
    cron: CronExpression | None = None
    initial_scan_on_start: bool = Field(False, alias="initialScanOnStart")
    concurrency: int = Field(3, ge=1, le=64)
    cache_ttl: Duration = Field(timedelta(minutes=5), alias="cacheTTL")
    error_ttl: Duration = Field(timedelta(seconds=30), alias="errorTTL")
    timeout: Duration = Field(
        timedelta(minutes=5),
        gt=timedelta(0),
        description="how long a scan's registry lookups may take in all",
    )

    @field_validator("interval")
    @classmethod
    def _not_too_often(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value < MIN_SCAN_INTERVAL:
            minimum = int(MIN_SCAN_INTERVAL.total_seconds())
            raise ValueError(f"below the minimum scan interval of {minimum}s")
        return value


class UpdateConfig(_Section):
    enabled: bool = False
    auto_update_cron: CronExpression | None = Field(None, alias="autoUpdateCron")
    allow_compose_update: bool = Field(False, alias="allowComposeUpdate")
    recreate_strategy: Literal["recreate"] = Field("recreate", alias="recreateStrategy")
    remove_old_container: bool = Field(True, alias="removeOldContainer")
    cleanup: bool = Field(False, description="remove the old image after a good update")
    concurrency: int = Field(2, ge=1, le=32, description="updates at once, across runs")
    health_timeout: Duration = Field(timedelta(seconds=60), alias="healthTimeout")
    approval: Literal["none", "totp"] = Field(
        "none", description="totp: every update run waits for an approver's code"
    )
    stable_seconds: Duration = Field(timedelta(seconds=10), alias="stableSeconds")
    rollback_restart_window: Duration = Field(
        timedelta(minutes=2),
        alias="rollbackRestartWindow",
        description="how long a rollback keeps trying to start the old container",
    )


class PolicyConfig(_Section):
    skip_labels: StrList = Field(default_factory=list, alias="skipLabels")
    only_labels: StrList = Field(default_factory=list, alias="onlyLabels")
    exclude_labels: StrList = Field(default_factory=list, alias="excludeLabels")
    skip_local_build: bool = Field(True, alias="skipLocalBuild")
    skip_pinned_digest: bool = Field(True, alias="skipPinnedDigest")
    skip_semver_pinned: bool = Field(True, alias="skipSemverPinned")
    floating_tags: StrList = Field(default_factory=list, alias="floatingTags")

    @model_validator(mode="after")
    def _no_contradictions(self) -> PolicyConfig:
        both = sorted(set(self.only_labels) & set(self.exclude_labels))
        if both:
            raise ValueError(
                f"policy.onlyLabels and policy.excludeLabels both list {', '.join(both)}: "
                "a container cannot be both required and excluded"
            )
        return self


class RegistryAuth(_Section):
    host: str
    username: str
    password: SecretStr

    @field_validator("host")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("host must not be empty")
        return value.strip()


class RegistryConfig(_Section):
    auth: list[RegistryAuth] = Field(default_factory=list)
    insecure: StrList = Field(
        default_factory=list, description="hosts reached over plain HTTP, like Docker's list"
    )
    timeout: Duration = Field(timedelta(seconds=10))
    retries: int = Field(3, ge=0, le=10, description="retries on connection errors, 5xx and 429")


_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _is_url(value: SecretStr) -> SecretStr:
    # Only the shape is checked here: apprise itself is heavy to import and logs what it parses.
    # The message must not quote the value - it holds tokens.
    if not _URL_SCHEME.match(value.get_secret_value().strip()):
        raise ValueError("not an apprise URL (expected scheme://..., e.g. json://host/path)")
    return SecretStr(value.get_secret_value().strip())


NotifyURL = Annotated[SecretStr, AfterValidator(_is_url)]


class NotifyConfig(_Section):
    urls: Annotated[list[NotifyURL], BeforeValidator(_split_list)] = Field(
        default_factory=list,
        description="apprise URLs notified of update runs; they carry tokens, so never shown",
    )
    # Nothing is sent without a target, so "on when a target is set" needs no third value.
    on_update_available: bool = Field(
        True,
        alias="onUpdateAvailable",
        description="tell once per container and new image that an update is available",
    )


class ApprovalConfig(_Section):
    max_attempts: int = Field(3, ge=1, le=20, alias="maxAttempts")
    timeout: Duration = Field(timedelta(hours=1), description="no answer by then: rejected")
    lockout_attempts: int = Field(
        5, ge=1, le=100, alias="lockoutAttempts", description="wrong codes that lock an approver"
    )
    lockout_period: Duration = Field(
        timedelta(minutes=15),
        alias="lockoutPeriod",
        description="the window those wrong codes count in, and how long the lock lasts",
    )

    _positive = field_validator("lockout_period")(_longer_than_zero)


class TwoFAUser(_Section):
    otp_secret: SecretStr = Field(alias="otpSecret")

    @field_validator("otp_secret")
    @classmethod
    def _usable(cls, value: SecretStr) -> SecretStr:
        # Refused here, at start, rather than on the first approval; TotpError never quotes it.
        try:
            return SecretStr(validate_secret(value.get_secret_value()))
        except TotpError as exc:
            raise ValueError(str(exc)) from None


class TwoFAConfig(_Section):
    """Approvers and their TOTP secrets (seed `twofa.users`); WATCH_TOTP_SECRET adds one
    approver named `default`."""

    users: dict[str, TwoFAUser] = Field(default_factory=dict)


class ShellConfig(_Section):
    """The API's shell streams (`watchdocker.streams`): a terminal in a container, and one where
    watch-docker itself runs (the seed's IS_OPEN_DOCKER_SHELL)."""

    containers: bool = Field(
        True, description="full-token users may open a shell in a container (docker exec)"
    )
    host: bool = Field(False, description="full-token users may open a shell on serve's host")


class ComposeConfig(_Section):
    dir: Path | None = Field(
        None, description="the folder of the compose projects watch-docker creates and lists"
    )
    command: str | None = Field(
        None, description="the Compose CLI, e.g. `docker compose`; default: found on the PATH"
    )

    def project_root(self, state_dir: Path) -> Path:
        """Where projects are created and looked for: `compose.dir`, else under the state."""
        return self.dir if self.dir is not None else state_dir / "compose"


class LoggingConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "watch-docker"


class Settings(BaseSettings):
    """Built by `load_settings`: keyword arguments are the config file, WATCH_* variables win."""

    model_config = SettingsConfigDict(extra="forbid", populate_by_name=True)

    server: ServerConfig = Field(default_factory=ServerConfig)
    prefect: PrefectConfig = Field(default_factory=PrefectConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    docker: DockerConfig = Field(default_factory=DockerConfig)
    scan: ScanConfig = Field(default_factory=ScanConfig)
    update: UpdateConfig = Field(default_factory=UpdateConfig)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    approval: ApprovalConfig = Field(default_factory=ApprovalConfig)
    twofa: TwoFAConfig = Field(default_factory=TwoFAConfig)
    shell: ShellConfig = Field(default_factory=ShellConfig)
    compose: ComposeConfig = Field(default_factory=ComposeConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    state_dir: Path = Field(default_factory=_default_state_dir, alias="stateDir")

    @model_validator(mode="after")
    def _no_contradictions(self) -> Settings:
        if self.scan.interval is not None and self.scan.cron:
            raise ValueError("scan.interval and scan.cron are both set: choose one schedule")
        if self.update.auto_update_cron and not self.update.enabled:
            raise ValueError(
                "update.autoUpdateCron is set but update.enabled is false: "
                "enable updates or remove the schedule"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        *_: PydanticBaseSettingsSource,
        **__: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier sources win; pydantic-settings' own env/dotenv sources are not wanted.
        file_data = getattr(init_settings, "init_kwargs", {})
        return (WatchEnvSource(settings_cls, file_data), init_settings)


# Environment name -> YAML path: the original design's names where it gives one.
ENV_VARS: dict[str, tuple[str, ...]] = {
    "WATCH_SERVER_ADDR": ("server", "addr"),
    "WATCH_SERVER_CORS_ORIGINS": ("server", "corsOrigins"),
    "WATCH_PREFECT_ADDR": ("prefect", "addr"),
    "WATCH_PREFECT_EVENT_RETENTION": ("prefect", "eventRetention"),
    "WATCH_PREFECT_RUN_RETENTION": ("prefect", "runRetention"),
    "USER_NAME": ("auth", "username"),
    "USER_PASSWORD": ("auth", "password"),
    "USER_PASSWORD_HASH": ("auth", "passwordHash"),
    "IS_SECONDARY_VERIFICATION": ("auth", "secondaryVerification"),
    "TWOFA_ALLOWED_DOMAINS": ("auth", "allowedDomains"),
    "WATCH_JWT_SECRET": ("auth", "jwtSecret"),
    "WATCH_LOGIN_ATTEMPTS": ("auth", "loginAttempts"),
    "WATCH_LOGIN_LOCKOUT": ("auth", "loginLockout"),
    "WATCH_DOCKER_HOST": ("docker", "host"),
    "WATCH_DOCKER_INCLUDE_STOPPED": ("docker", "includeStopped"),
    "WATCH_SCAN_INTERVAL": ("scan", "interval"),
    "WATCH_SCAN_CRON": ("scan", "cron"),
    "WATCH_SCAN_INITIAL_ON_START": ("scan", "initialScanOnStart"),
    "WATCH_SCAN_CONCURRENCY": ("scan", "concurrency"),
    "WATCH_SCAN_CACHE_TTL": ("scan", "cacheTTL"),
    "WATCH_SCAN_ERROR_TTL": ("scan", "errorTTL"),
    "WATCH_SCAN_TIMEOUT": ("scan", "timeout"),
    "WATCH_UPDATE_ENABLED": ("update", "enabled"),
    "WATCH_UPDATE_CRON": ("update", "autoUpdateCron"),
    "WATCH_UPDATE_ALLOW_COMPOSE": ("update", "allowComposeUpdate"),
    "WATCH_UPDATE_STRATEGY": ("update", "recreateStrategy"),
    "WATCH_UPDATE_REMOVE_OLD": ("update", "removeOldContainer"),
    "WATCH_UPDATE_CLEANUP": ("update", "cleanup"),
    "WATCH_UPDATE_APPROVAL": ("update", "approval"),
    "WATCH_APPROVAL_MAX_ATTEMPTS": ("approval", "maxAttempts"),
    "WATCH_APPROVAL_TIMEOUT": ("approval", "timeout"),
    "WATCH_APPROVAL_LOCKOUT_ATTEMPTS": ("approval", "lockoutAttempts"),
    "WATCH_APPROVAL_LOCKOUT_PERIOD": ("approval", "lockoutPeriod"),
    "WATCH_TOTP_SECRET": ("twofa", "users", "default", "otpSecret"),
    "WATCH_UPDATE_CONCURRENCY": ("update", "concurrency"),
    "WATCH_UPDATE_HEALTH_TIMEOUT": ("update", "healthTimeout"),
    "WATCH_UPDATE_STABLE_SECONDS": ("update", "stableSeconds"),
    "WATCH_UPDATE_ROLLBACK_RESTART_WINDOW": ("update", "rollbackRestartWindow"),
    "WATCH_POLICY_SKIP_LABELS": ("policy", "skipLabels"),
    "WATCH_POLICY_ONLY_LABELS": ("policy", "onlyLabels"),
    "WATCH_POLICY_EXCLUDE_LABELS": ("policy", "excludeLabels"),
    "WATCH_POLICY_SKIP_LOCAL_BUILD": ("policy", "skipLocalBuild"),
    "WATCH_POLICY_SKIP_PINNED_DIGEST": ("policy", "skipPinnedDigest"),
    "WATCH_POLICY_SKIP_SEMVER_PINNED": ("policy", "skipSemverPinned"),
    "WATCH_POLICY_FLOATING_TAGS": ("policy", "floatingTags"),
    "WATCH_REGISTRY_INSECURE": ("registry", "insecure"),
    "WATCH_REGISTRY_TIMEOUT": ("registry", "timeout"),
    "WATCH_REGISTRY_RETRIES": ("registry", "retries"),
    "WATCH_NOTIFY_URLS": ("notify", "urls"),
    "WATCH_NOTIFY_ON_UPDATE_AVAILABLE": ("notify", "onUpdateAvailable"),
    "WATCH_SHELL_CONTAINERS": ("shell", "containers"),
    "IS_OPEN_DOCKER_SHELL": ("shell", "host"),
    "APP_PATH": ("compose", "dir"),
    "WATCH_COMPOSE_COMMAND": ("compose", "command"),
    "WATCH_LOG_LEVEL": ("logging", "level"),
    "WATCH_STATE_DIR": ("stateDir",),
}
# WATCH_REGISTRY_AUTH_<n>_{HOST,USERNAME,PASSWORD}: one registry credential each n.
_AUTH_VAR = re.compile(r"WATCH_REGISTRY_AUTH_(\d+)_(HOST|USERNAME|PASSWORD)")
CONFIG_FILE_VAR = "WATCH_CONFIG"
_SECRET_KEYS = {"password", "passwordHash", "otpSecret", "secret", "jwtSecret"}


def default_config_paths() -> list[Path]:
    """Where `config.yaml` is looked for when neither --config nor WATCH_CONFIG names one."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [
        Path("config.yaml"),
        Path(xdg) / "watch-docker" / "config.yaml",
        Path("/etc/watch-docker/config.yaml"),
    ]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 text: byte 0x{exc.object[exc.start]:02x} "
            f"on line {line}"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config file {path} is not valid YAML{at}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {data!r:.40}")
    return data


def _set_path(tree: dict[str, Any], path: tuple[str, ...], value: object) -> None:
    for key in path[:-1]:
        node = tree.get(key)
        if not isinstance(node, dict):
            node = tree[key] = {}
        tree = node
    tree[path[-1]] = value


class WatchEnvSource(PydanticBaseSettingsSource):
    """WATCH_* variables by the ENV_VARS table; DOCKER_HOST when neither WATCH_DOCKER_HOST nor
    the file names an engine; WATCH_REGISTRY_AUTH_<n>_* applied to the file's `registry.auth`."""

    def __init__(self, settings_cls: type[BaseSettings], file_data: Mapping[str, Any]) -> None:
        super().__init__(settings_cls)
        self.file_data = file_data

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ builds the whole tree at once

    def _auth(self, env: Mapping[str, str]) -> list[Any]:
        """The file's `registry.auth` with the variables applied: entry n of the file is
        overridden key by key; numbers past the file's entries add entries, in order."""
        overrides: dict[int, dict[str, str]] = {}
        for name, value in env.items():
            if match := _AUTH_VAR.fullmatch(name):
                overrides.setdefault(int(match[1]), {})[match[2].lower()] = value
        if not overrides:
            return []
        registry = self.file_data.get("registry")
        auth = list(registry.get("auth") or []) if isinstance(registry, dict) else []
        existing = len(auth)
        for index in sorted(overrides):
            if index < existing and isinstance(auth[index], dict):
                auth[index] = {**auth[index], **overrides[index]}
            else:
                auth.append(overrides[index])
        return auth

    def __call__(self) -> dict[str, Any]:
        env = os.environ
        tree: dict[str, Any] = {}
        for name, path in ENV_VARS.items():
            if name in env:
                _set_path(tree, path, env[name])
        file_docker = self.file_data.get("docker")
        file_host = file_docker.get("host") if isinstance(file_docker, dict) else None
        if "WATCH_DOCKER_HOST" not in env and not file_host and env.get("DOCKER_HOST"):
            _set_path(tree, ("docker", "host"), env["DOCKER_HOST"])
        if auth := self._auth(env):
            _set_path(tree, ("registry", "auth"), auth)
        return tree


def _env_name(path: tuple[str | int, ...]) -> str | None:
    if len(path) == 4 and path[:2] == ("registry", "auth") and isinstance(path[2], int):
        return f"WATCH_REGISTRY_AUTH_{path[2]}_{str(path[3]).upper()}"
    for name, env_path in ENV_VARS.items():
        if env_path == path:
            return name
    return None


def _may_hold_a_secret(loc: tuple[str | int, ...]) -> bool:
    # Anything under registry.auth (an entry may be written as "user:password"), the registry
    # section itself, every key named like a secret, and anything under notify (apprise URLs
    # carry their tokens inline, and the section may be mistyped as a bare URL).
    return (
        loc[:2] == ("registry", "auth")
        or loc == ("registry",)
        or loc[:1] in (("notify",), ("twofa",), ("auth",))
        or bool(loc and loc[-1] in _SECRET_KEYS)
    )


def _model_at(path: tuple[str | int, ...]) -> type[BaseModel] | None:
    """The section model that holds the keys at `path` (list indexes and dict keys such as an
    approver's name pass through to the model of their items)."""
    model: type[BaseModel] = Settings
    for part in path:
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        if field is None:
            continue  # an index or a mapping key: the items' model stays the one found
        found = _model_in(field.annotation)
        if found is None:
            return None
        model = found
    return model


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((m for arg in get_args(annotation) if (m := _model_in(arg)) is not None), None)


def _did_you_mean(loc: tuple[str | int, ...]) -> str:
    """` (did you mean scan.concurrency?)` for a misspelt key, else nothing."""
    model = _model_at(loc[:-1])
    if model is None or not isinstance(loc[-1], str):
        return ""
    # Typed either way (snake_case or the YAML alias), suggested as the YAML key.
    keys = {}
    for name, field in model.model_fields.items():
        keys[name.lower()] = keys[(field.alias or name).lower()] = field.alias or name
    close = difflib.get_close_matches(loc[-1].lower(), keys, n=1, cutoff=0.7)
    if not close:
        return ""
    parent = ".".join(str(part) for part in loc[:-1])
    return f" (did you mean {parent + '.' if parent else ''}{keys[close[0]]}?)"


def _plain(item: Any) -> str:
    """Pydantic's message in a person's words for the common type and range errors."""
    ctx = item.get("ctx") or {}
    plain = {
        "int_parsing": "must be a whole number",
        "int_from_float": "must be a whole number",
        "int_type": "must be a whole number",
        "bool_parsing": "must be true or false",
        "bool_type": "must be true or false",
        "greater_than_equal": f"must be at least {ctx.get('ge')}",
        "less_than_equal": f"must be at most {ctx.get('le')}",
        "missing": "required, but not set",
    }
    return plain.get(item["type"]) or item["msg"].removeprefix("Value error, ")


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        key = ".".join(str(part) for part in loc) or "(top level)"
        env = _env_name(loc)
        where = f"{key} ({env})" if env else key
        message = _plain(item)
        value = item["input"]
        if item["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown setting{_did_you_mean(loc)}")
        elif item["type"] == "value_error" and len(loc) <= 1:
            # Cross-field checks already name every key involved.
            problems.append(message)
        elif _may_hold_a_secret(loc) or not isinstance(value, str | int | float):
            # Secrets, and mappings that may hold one, are never echoed.
            problems.append(f"{where}: {message}")
        elif isinstance(value, str) and repr(value) in message:
            problems.append(f"{where}: {message}")  # the message quotes the value already
        else:
            problems.append(f"{where}: {message} (got {value!r:.60})")
    return "invalid configuration: " + "; ".join(problems)


# Where serve listens, who logs in to it and which shells it opens: not what a run does.
_NOT_RUN_SETTINGS = {"server", "prefect", "auth", "shell", "state_dir"}


def run_settings_digest(settings: Settings) -> str:
    """A digest of what a scan or an update run reads from `settings`: equal for the CLI and
    serve exactly when a run in serve does what the CLI's own settings say. Secrets enter it
    masked (SecretStr)."""
    import hashlib

    dumped = settings.model_dump_json(exclude=_NOT_RUN_SETTINGS)
    return hashlib.sha256(dumped.encode()).hexdigest()


def load_settings(config_file: str | Path | None = None) -> Settings:
    """Settings from the config file (explicit, WATCH_CONFIG, or the first default path that
    exists), overridden by WATCH_* variables. Raises ConfigError naming what is wrong."""
    explicit = config_file or os.environ.get(CONFIG_FILE_VAR)
    data: dict[str, Any] = {}
    if explicit:
        data = _read_yaml(Path(explicit))
    else:
        found = next((p for p in default_config_paths() if p.is_file()), None)
        if found:
            data = _read_yaml(found)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
