"""What `sam local invoke` needs from a running emulator: an address and an --env-vars file.

SAM runs the function in a Docker container. Two measured facts shape this module
(SAM CLI 1.148): the container cannot reach the host's 127.0.0.1, but it reaches the
host at the Docker bridge's gateway address (docker0, usually 172.17.0.1), which no
other machine can reach; and SAM passes an ``--env-vars`` value into the container only
for variables the template declares (template.yaml declares the endpoint variables
empty, which botocore treats as unset on AWS).
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

from .errors import DockerUnavailable

__all__ = ["docker_bridge_address", "sam_env_vars", "write_env_vars_file"]

SAM_ENV_NAMES = (
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SSM",
    "AWS_ENDPOINT_URL_WORKMAILMESSAGEFLOW",
    "AWS_ENDPOINT_URL_WORKMAIL",
    "MIMEOPS_BUCKET",
)
"""The variables of ``build_env`` that template.yaml declares, so SAM passes them on.
Region and credentials are SAM's own business (it sets them in every container)."""

MARKER_KEY = "MIMEOPS_MARKER_KEY"


def docker_bridge_address(timeout: float = 10.0) -> str:
    """The IPv4 gateway of Docker's default ``bridge`` network, e.g. ``172.17.0.1``.

    Asked of the engine itself (``docker network inspect bridge``), so a daemon
    configured with another ``--bip`` is honoured. Bound there, a server is reachable
    from this host and from its containers, not from the network.
    """
    command = ["docker", "network", "inspect", "bridge",
               "--format", "{{json .IPAM.Config}}"]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              check=False)
    except FileNotFoundError:
        raise DockerUnavailable("no docker command on PATH") from None
    except subprocess.TimeoutExpired:
        raise DockerUnavailable(f"the Docker engine did not answer within {timeout:g} s") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        reason = lines[-1] if lines else f"docker exited with {done.returncode}"
        raise DockerUnavailable(reason)
    try:
        configs = json.loads(done.stdout)
    except ValueError:
        configs = None
    return _ipv4_gateway(configs if isinstance(configs, list) else [])


def _ipv4_gateway(configs: list[Any]) -> str:
    """The gateway of the first IPv4 subnet; the engine leaves ``Gateway`` out of the
    default bridge's config when it is the subnet's first host (as docker0 is)."""
    for config in configs:
        if not isinstance(config, dict):
            continue
        with contextlib.suppress(ValueError, TypeError):
            gateway = ipaddress.ip_address(config.get("Gateway", ""))
            if gateway.version == 4:
                return str(gateway)
        with contextlib.suppress(ValueError, TypeError, StopIteration):
            subnet = ipaddress.ip_network(config.get("Subnet", ""))
            if subnet.version == 4:
                return str(next(subnet.hosts()))
    raise DockerUnavailable("Docker's bridge network has no IPv4 subnet")


def sam_env_vars(env: dict[str, str], marker_key: str | None = None) -> dict[str, dict[str, str]]:
    """The ``--env-vars`` document for ``env`` (from ``build_env``).

    Under ``Parameters`` it applies to every function of the template. It carries a
    marker key (a fresh random one unless given): on AWS CloudFormation resolves the
    key from Secrets Manager, locally the template's unresolved reference would be
    the same public string on every machine.
    """
    values = {name: env[name] for name in SAM_ENV_NAMES if name in env}
    values[MARKER_KEY] = marker_key if marker_key is not None else secrets.token_hex(32)
    return {"Parameters": values}


def write_env_vars_file(path: str | os.PathLike[str], document: dict[str, dict[str, str]]) -> None:
    """Write ``document`` as JSON, readable by the owner only (it holds the marker key)."""
    target = Path(path)
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when the file existed
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2)
        stream.write("\n")
