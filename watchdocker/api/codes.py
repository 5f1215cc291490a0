"""The `code` of every API answer (`BaseRes`): 0 for success, the seed's codes for its errors,
and watch-docker's own for auth and bad input. The README's table lists every one (a unit test
checks it), with the HTTP status each is sent with."""

from __future__ import annotations

from enum import IntEnum


class Code(IntEnum):
    OK = 0
    APPROVAL_NEEDED = 20201  # the update run waits for an approver's code (HTTP 202)
    BAD_REQUEST = 40000  # a malformed body, query or path
    IMAGE_REQUIRED = 40001  # the seed's: no image given
    NOT_AUTHENTICATED = 40101  # no token, a tampered one, or one signed by another key
    TOKEN_EXPIRED = 40102
    WRONG_CREDENTIALS = 40103  # wrong user name or password
    WRONG_CODE = 40104  # a wrong, expired or reused TOTP code
    FULL_TOKEN_REQUIRED = 40301  # a temp token on a route that needs the second factor done
    HOST_NOT_ALLOWED = 40302  # a 2FA request to a host not in TWOFA_ALLOWED_DOMAINS
    ORIGIN_NOT_ALLOWED = 40320  # a WebSocket from a page of another origin
    SHELL_DISABLED = 40321  # a shell stream the configuration turns off
    NOT_FOUND = 40400  # no such route
    CONTAINER_NOT_FOUND = 40401
    IMAGE_NOT_FOUND = 40402
    RUN_NOT_FOUND = 40403  # no update run of that id
    CONTAINER_RUNNING = 40901  # deleting a running container without force
    IMAGE_IN_USE = 40902
    TWOFA_STATE = 40903  # enrolment asked twice, or 2FA used before it is set up
    NOT_WAITING = 40904  # an approval answer for a run that does not wait for one
    # Passkeys (WebAuthn): 40010 the host cannot be an RP ID (an IP address); 40110 a passkey
    # answer that does not verify; 40410 no such passkey; 40910 no ceremony under way (never
    # begun, used, or expired); 40911 none of the user's passkeys is for this host.
    PASSKEY_HOST = 40010
    WRONG_PASSKEY = 40110
    PASSKEY_NOT_FOUND = 40410
    NO_CEREMONY = 40910
    PASSKEY_NOT_HERE = 40911
    TOO_MANY_ATTEMPTS = 42901  # locked out after failed logins or codes (HTTP 429)
    INTERNAL = 50000
    SCAN_FAILED = 50001
    UPDATE_FAILED = 50002
    DOCKER_ERROR = 50003
    REGISTRY_ERROR = 50004
    NOT_READY = 50301  # the Docker engine or the Prefect API cannot be reached


HTTP_STATUS: dict[Code, int] = {
    Code.OK: 200,
    Code.APPROVAL_NEEDED: 202,
    Code.BAD_REQUEST: 400,
    Code.IMAGE_REQUIRED: 400,
    Code.NOT_AUTHENTICATED: 401,
    Code.TOKEN_EXPIRED: 401,
    Code.WRONG_CREDENTIALS: 401,
    Code.WRONG_CODE: 401,
    Code.FULL_TOKEN_REQUIRED: 403,
    Code.HOST_NOT_ALLOWED: 403,
    Code.ORIGIN_NOT_ALLOWED: 403,
    Code.SHELL_DISABLED: 403,
    Code.NOT_FOUND: 404,
    Code.CONTAINER_NOT_FOUND: 404,
    Code.IMAGE_NOT_FOUND: 404,
    Code.RUN_NOT_FOUND: 404,
    Code.CONTAINER_RUNNING: 409,
    Code.IMAGE_IN_USE: 409,
    Code.TWOFA_STATE: 409,
    Code.NOT_WAITING: 409,
    Code.PASSKEY_HOST: 400,
    Code.WRONG_PASSKEY: 401,
    Code.PASSKEY_NOT_FOUND: 404,
    Code.NO_CEREMONY: 409,
    Code.PASSKEY_NOT_HERE: 409,
    Code.TOO_MANY_ATTEMPTS: 429,
    Code.INTERNAL: 500,
    Code.SCAN_FAILED: 500,
    Code.UPDATE_FAILED: 500,
    Code.DOCKER_ERROR: 500,
    Code.REGISTRY_ERROR: 502,
    Code.NOT_READY: 503,
}
