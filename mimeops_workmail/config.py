"""The flow and the marker key, from the Lambda environment, kept fresh in a warm container.

MIMEOPS_CONFIG is a path inside the package (or absolute), inline YAML/JSON,
or `ssm:/parameter/name`; the marker key is $MIMEOPS_MARKER_KEY or the secret
named by $MIMEOPS_MARKER_KEY_SECRET. Both are read at the first invocation and
again every MIMEOPS_CONFIG_TTL seconds (default 300) — see `refresh` for what a
failed read does. A flow that does not load is reported clearly and every
message is then delivered unchanged: a broken flow must never become a crash
loop that holds the organization's mail.

`on_error` comes from the flow, which may be the very thing that cannot be read:
the flow in force (the last good one) decides; before any flow was read in this
container, MIMEOPS_ON_ERROR (deliver | retry, default deliver) does. An invalid
flow always delivers (a retry cannot fix a typo).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from aws_lambda_powertools import Logger

from mimeops import Flow, FlowError, load_flow
from mimeops.cli.marker_key import ENV_KEY, from_environment
from mimeops.errors import PermanentError, TransientError
from mimeops.flow import marker
from mimeops.flow.core import ON_ERROR
from mimeops_workmail import clients
from mimeops_workmail.refresh import Refreshing, Report

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "mimeops"), child=True)

ENV_CONFIG = "MIMEOPS_CONFIG"
ENV_TTL = "MIMEOPS_CONFIG_TTL"
ENV_ON_ERROR = "MIMEOPS_ON_ERROR"
ENV_MARKER_SECRET = "MIMEOPS_MARKER_KEY_SECRET"
DEFAULT_TTL = 300.0
SSM_PREFIX = "ssm:"
FLOW_FILE_SUFFIXES = (".yaml", ".yml", ".json")


# Without a configured key: one random key for this container's life (markers written
# here verify here; a retry in another container applies the rule again; said at start).
_CONTAINER_KEY = secrets.token_bytes(32)


class ConfigUnavailable(TransientError, RuntimeError):
    """The flow or the marker key could not be fetched (SSM, Secrets Manager): transient."""


def _fetch(kind: str, name: str) -> str:
    """One fresh read of an SSM parameter or a secret, through the handler's bounded clients
    (powertools' own cache is bypassed: `refresh` decides when to read again)."""
    from aws_lambda_powertools.utilities import parameters

    try:
        if kind == "ssm":
            value = parameters.SSMProvider(boto3_client=clients.client("ssm")).get(
                name, decrypt=True, force_fetch=True)
        else:
            value = parameters.SecretsProvider(
                boto3_client=clients.client("secretsmanager")).get(name, force_fetch=True)
    except Exception as error:  # powertools wraps botocore's error: name the AWS code
        code = clients.error_code(error.__context__ or error) or type(error).__name__
        where = "SSM parameter" if kind == "ssm" else "secret"
        raise ConfigUnavailable(f"cannot read {where} {name}: {code}") from error
    return value if isinstance(value, str) else bytes(value or b"").decode("utf-8")


def flow_source() -> str:
    """The flow text (or a path load_flow reads): MIMEOPS_CONFIG, fetched when `ssm:`."""
    source = os.environ.get(ENV_CONFIG, "").strip()
    if not source:
        raise FlowError(f"{ENV_CONFIG} is not set (a flow path, inline YAML/JSON or ssm:/name)")
    if source.startswith(SSM_PREFIX):
        return _fetch("ssm", source[len(SSM_PREFIX):])
    if "\n" not in source and not Path(source).is_absolute():
        try:
            packaged = PACKAGE_ROOT / source
            if packaged.is_file():  # a path inside the deployment package
                return str(packaged)
        except OSError:  # a long one-line flow is no file name
            pass
        if source.endswith(FLOW_FILE_SUFFIXES) and not Path(source).is_file():
            raise FlowError(f"{ENV_CONFIG}={source}: no such file in the deployment package "
                            "(package your flow with `make sam-build FLOW=path/to/flow.yaml` "
                            "and deploy FlowConfig=flow.yaml, or use ssm:/parameter/name)")
    return source  # a path or the flow itself: load_flow tells them apart


def read_flow(report: Report, source: str | dict[str, object] | None = None) -> Flow:
    """The flow (`source`, else MIMEOPS_CONFIG); with `organization_id`, the internal
    domains come from WorkMail (the flow file's list is the fallback when the lookup
    fails, until the next read). A flow that needs a directory and has none is a
    FlowError here, once, rather than a failure on every message."""
    flow = load_flow(flow_source() if source is None else source)
    if flow.organization_id:
        from mimeops_workmail.domains import organization_domains

        try:
            found = organization_domains(flow.organization_id)
        except Exception as error:  # keep mail flowing on the flow file's list
            report("internal domains (ListMailDomains; the flow's list is used)", error, True)
        else:
            if found:
                flow.internal_domains = found
    if flow.directory_source == "workmail":
        from mimeops_workmail import directory

        directory.attach(flow)
    problem = flow.missing_directory()
    if problem:
        raise FlowError(f"{problem}: set 'directory: workmail' (with organization_id) "
                        "in the flow")
    return flow


def read_marker_keys(report: Report) -> marker.Keys:
    """$MIMEOPS_MARKER_KEY, else $MIMEOPS_MARKER_KEY_SECRET: a Secrets Manager secret
    (name or ARN), or `ssm:/name` for an SSM SecureString parameter. Either may hold
    several keys, newest first, separated by whitespace (rotation). Neither: a random
    key for this container."""
    source = os.environ.get(ENV_MARKER_SECRET, "").strip()
    keys = from_environment()
    if keys is not None:
        return keys
    if not source:
        return (_CONTAINER_KEY,)
    if source.startswith(SSM_PREFIX):
        text = _fetch("ssm", source[len(SSM_PREFIX):])
    else:
        text = _fetch("secret", source)
    keys = marker.keys_from_text(text)
    if not keys:
        raise FlowError(f"{ENV_MARKER_SECRET}: {source} holds no key")
    return keys


def _ttl() -> float:
    raw = os.environ.get(ENV_TTL, "").strip()
    if not raw:
        return DEFAULT_TTL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        logger.warning(f"{ENV_TTL}={raw!r} is not a number of seconds >= 0; "
                       f"using {DEFAULT_TTL:.0f}")
        return DEFAULT_TTL
    return value


class Config:
    """The flow and marker keys of one container; `current()` once per invocation."""

    def __init__(self, clock: Callable[[], float] | None = None,
                 flow: str | dict[str, object] | None = None) -> None:
        """`flow`: the flow itself (a path, YAML text or a dict), instead of
        MIMEOPS_CONFIG (the test kit)."""
        ttl = _ttl()
        self.flow = Refreshing("flow", lambda report: read_flow(report, flow), ttl,
                               permanent=(PermanentError,), clock=clock)
        self.keys = Refreshing("marker key", read_marker_keys, ttl,
                               permanent=(PermanentError,), clock=clock)
        fallback = os.environ.get(ENV_ON_ERROR, "deliver").strip().lower() or "deliver"
        if fallback not in ON_ERROR:
            logger.warning(f"{ENV_ON_ERROR}={fallback!r} is not deliver or retry; using deliver")
            fallback = "deliver"
        self._fallback_on_error = fallback
        if (os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and not os.environ.get(ENV_MARKER_SECRET)
                and not os.environ.get(ENV_KEY)):  # locally the key file is meant
            logger.warning(f"no marker key configured ({ENV_MARKER_SECRET}): retries "
                           "in another container may apply a rule twice")

    def current(self, report: Report) -> Flow:
        """The flow in force with the marker keys in force (a copy: a worker left over from
        an earlier invocation may still hold the previous one)."""
        flow = self.flow.get(report)
        return dataclasses.replace(flow, marker_key=self.keys.get(report))

    def on_error(self) -> str:
        """deliver | retry for a fault: the flow in force decides, else MIMEOPS_ON_ERROR."""
        flow = self.flow.held()
        return flow.on_error if flow is not None else self._fallback_on_error
