#!/usr/bin/env python3
"""Bearer token server of the watchdocker test bed (Docker registry token auth, v2).

A tiny stand-in for auth.docker.io, for the Bearer-auth registry of the bed
(testbed/up.sh runs it on 127.0.0.1:5103). Standard library plus PyJWT with
cryptography, so run it with the project venv's python
(``WATCH_TESTBED_PYTHON=/path/to/.venv/bin/python``).

Protocol (https://distribution.github.io/distribution/spec/auth/token/):

* ``GET /token?service=S&scope=repository:NAME:pull[,push]`` (scope may repeat,
  and one scope value may hold several space-separated scopes), optional HTTP
  Basic auth. Also ``POST /token`` with the OAuth2 form
  (``grant_type=password``, ``username``, ``password``, ``service``, ``scope``).
* Basic auth ``tokenuser`` / ``tokenpass``: every requested action is granted.
* Wrong credentials: 401.
* No credentials (anonymous): only ``pull`` on repositories whose name starts
  with ``public/`` is granted (like Docker Hub's public images); when nothing at
  all would be granted the answer is 401.
* Answer: ``{"token", "access_token", "expires_in": 300, "issued_at"}``; the
  JWT is RS256 signed, with the signing certificate in the ``x5c`` header, which
  is how distribution 2.8 checks it against its ``rootcertbundle``.
* Every token request (granted or refused) appends one JSON line to the
  request log (``--request-log``), so tests can count token requests.
* ``GET /healthz`` answers 200 ``ok``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

EXPIRES_IN = 300


class Config:
    def __init__(self, args: argparse.Namespace) -> None:
        with open(args.key, "rb") as fh:
            self.key = serialization.load_pem_private_key(fh.read(), password=None)
        with open(args.cert, "rb") as fh:
            cert = x509.load_pem_x509_certificate(fh.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.issuer: str = args.issuer
        self.service: str = args.service
        self.users: dict[str, str] = {args.user: args.password}
        self.public_prefix: str = args.public_prefix
        self.request_log: str = args.request_log
        self.log_lock = threading.Lock()


CONFIG: Config


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_scopes(values: list[str]) -> list[dict[str, Any]]:
    """``repository:NAME:pull,push`` -> ``{"type", "name", "actions"}`` (NAME may hold ':')."""
    out: list[dict[str, Any]] = []
    for value in values:
        for scope in value.split():
            parts = scope.split(":", 1)
            if len(parts) != 2 or ":" not in parts[1]:
                continue
            rtype = parts[0]
            name, actions = parts[1].rsplit(":", 1)
            out.append(
                {"type": rtype, "name": name, "actions": [a for a in actions.split(",") if a]}
            )
    return out


def grant(scopes: list[dict[str, Any]], account: str | None) -> list[dict[str, Any]]:
    granted: list[dict[str, Any]] = []
    for scope in scopes:
        if account is not None:
            actions = list(scope["actions"])
        elif scope["type"] == "repository" and scope["name"].startswith(CONFIG.public_prefix):
            actions = [a for a in scope["actions"] if a == "pull"]
        else:
            actions = []
        if actions:
            granted.append({"type": scope["type"], "name": scope["name"], "actions": actions})
    return granted


def make_token(service: str, account: str | None, access: list[dict[str, Any]]) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": CONFIG.issuer,
        "sub": account or "",
        "aud": service,
        "exp": now + EXPIRES_IN,
        "nbf": now - 10,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": access,
    }
    token = jwt.encode(
        claims, CONFIG.key, algorithm="RS256", headers={"typ": "JWT", "x5c": CONFIG.x5c}
    )
    return {
        "token": token,
        "access_token": token,
        "expires_in": EXPIRES_IN,
        "issued_at": rfc3339(now),
    }


class Handler(BaseHTTPRequestHandler):
    server_version = "watchdocker-testbed-token/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(
            f"{self.address_string()} [{self.log_date_time_string()}] {format % args}\n"
        )
        sys.stderr.flush()

    # -- helpers -----------------------------------------------------------------------------
    def _send(
        self, status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
    ) -> None:
        if isinstance(body, str):
            data = body.encode()
            ctype = "text/plain; charset=utf-8"
        else:
            data = json.dumps(body).encode()
            ctype = "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _record(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, sort_keys=True) + "\n"
        with CONFIG.log_lock, open(CONFIG.request_log, "a", encoding="utf-8") as fh:
            fh.write(line)

    def _basic_credentials(self) -> tuple[str, str] | bool | None:
        """None: no Authorization header; False: malformed; else (user, password)."""
        header = self.headers.get("Authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, sep, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not sep:
            return False
        return user, password

    def _issue(self, params: dict[str, list[str]], creds: tuple[str, str] | bool | None) -> None:
        service = (params.get("service") or [CONFIG.service])[0]
        scopes = parse_scopes(params.get("scope", []))
        entry: dict[str, Any] = {
            "time": rfc3339(time.time()),
            "method": self.command,
            "path": urlsplit(self.path).path,
            "service": service,
            "scope": [f"{s['type']}:{s['name']}:{','.join(s['actions'])}" for s in scopes],
            "account": None,
            "anonymous": creds is None,
        }
        account: str | None = None
        if creds is not None:
            if creds is False or CONFIG.users.get(creds[0]) != creds[1]:  # type: ignore[index]
                entry.update(status=401, granted=[], account=creds[0] if creds else None)
                self._record(entry)
                self._send(
                    401,
                    {
                        "errors": [
                            {"code": "UNAUTHORIZED", "message": "invalid username or password"}
                        ]
                    },
                    {"WWW-Authenticate": 'Basic realm="watchdocker-testbed-token"'},
                )
                return
            account = creds[0]  # type: ignore[index]
        access = grant(scopes, account)
        entry["account"] = account
        if account is None and not access:
            entry.update(status=401, granted=[])
            self._record(entry)
            self._send(
                401,
                {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                {"WWW-Authenticate": 'Basic realm="watchdocker-testbed-token"'},
            )
            return
        entry.update(status=200, granted=access)
        self._record(entry)
        self._send(200, make_token(service, account, access))

    # -- verbs -------------------------------------------------------------------------------
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path in ("/healthz", "/"):
            self._send(200, "ok\n")
            return
        if url.path != "/token":
            self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        self._issue(parse_qs(url.query), self._basic_credentials())

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path != "/token":
            self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        form = parse_qs(body)
        grant_type = (form.get("grant_type") or [""])[0]
        if grant_type != "password":
            self._send(400, {"error": "unsupported_grant_type"})
            return
        creds = ((form.get("username") or [""])[0], (form.get("password") or [""])[0])
        self._issue(form, creds)


def main(argv: list[str] | None = None) -> int:
    global CONFIG
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5103)
    p.add_argument("--key", required=True, help="PEM RSA private key")
    p.add_argument(
        "--cert", required=True, help="PEM certificate of that key (the registry's rootcertbundle)"
    )
    p.add_argument("--issuer", default="watchdocker-testbed-issuer")
    p.add_argument("--service", default="watchdocker-testbed")
    p.add_argument("--user", default="tokenuser")
    p.add_argument("--password", default="tokenpass")
    p.add_argument("--public-prefix", default="public/")
    p.add_argument(
        "--request-log", required=True, help="JSON-lines file, one line per token request"
    )
    args = p.parse_args(argv)
    CONFIG = Config(args)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    sys.stderr.write(f"token server listening on http://{args.host}:{args.port}/token\n")
    sys.stderr.flush()
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
