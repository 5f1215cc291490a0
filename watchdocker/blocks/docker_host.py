"""Docker engines as Prefect blocks: prefect-docker's `DockerHost`, extended with TLS material
kept as secrets, so that one worker can drive several engines over TCP+TLS (or SSH URLs)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import docker
import docker.tls
from prefect_docker.host import DockerHost
from pydantic import Field, SecretStr


class DockerHostTLS(DockerHost):
    """A Docker engine: base URL (`unix://`, `tcp://`, `ssh://`) and, for TCP+TLS, the CA and
    client certificate and key in PEM, stored as secrets."""

    _block_type_name = "Docker Host with TLS"
    _block_type_slug = "docker-host-tls"
    _description = "A Docker engine for watch-docker, with its TLS material stored as secrets."

    tls_ca_cert: SecretStr | None = Field(default=None, title="CA certificate (PEM)")
    tls_client_cert: SecretStr | None = Field(default=None, title="Client certificate (PEM)")
    tls_client_key: SecretStr | None = Field(default=None, title="Client key (PEM)")
    tls_verify: bool = Field(default=True, title="Verify the engine's certificate")

    def get_client(self) -> docker.DockerClient:
        if not (self.tls_ca_cert or self.tls_client_cert):
            return super().get_client()
        # The Docker SDK reads TLS material from files: private ones, gone with the process.
        folder = Path(tempfile.mkdtemp(prefix="watchdocker-tls-"))
        paths = {}
        for name in ("tls_ca_cert", "tls_client_cert", "tls_client_key"):
            secret = getattr(self, name)
            if secret is not None:
                path = folder / f"{name}.pem"
                path.touch(mode=0o600)
                path.write_text(secret.get_secret_value())
                paths[name] = str(path)
        client_cert = None
        if "tls_client_cert" in paths and "tls_client_key" in paths:
            client_cert = (paths["tls_client_cert"], paths["tls_client_key"])
        tls = docker.tls.TLSConfig(
            client_cert=client_cert, ca_cert=paths.get("tls_ca_cert"), verify=self.tls_verify
        )
        # On a copy: the block keeps the settings it was saved with (a TLSConfig is not storable).
        with_tls = self.model_copy(update={"client_kwargs": {**self.client_kwargs, "tls": tls}})
        return DockerHost.get_client(with_tls)


def load_docker_host(name: str) -> DockerHost:
    """A saved `DockerHostTLS` or plain prefect-docker `DockerHost` block, by name."""
    try:
        return DockerHostTLS.load(name)
    except ValueError:
        return DockerHost.load(name)
