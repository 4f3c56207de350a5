"""The flow and the marker key, from the Lambda environment, loaded once per cold start.

MIMEOPS_CONFIG is a path inside the package (or absolute), inline YAML/JSON,
or `ssm:/parameter/name` (read with powertools Parameters, cached). A flow
that does not load is reported once, clearly, and every message is then
delivered unchanged: a broken flow must never become a crash loop that holds
the organization's mail.
"""

from __future__ import annotations

import os
from pathlib import Path

from aws_lambda_powertools import Logger

from mimeops import Flow, FlowError, load_flow
from mimeops.flow import marker

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "mimeops"), child=True)
SSM_PREFIX = "ssm:"


def flow_source() -> str:
    source = os.environ.get("MIMEOPS_CONFIG", "").strip()
    if not source:
        raise FlowError("MIMEOPS_CONFIG is not set (a flow path, inline YAML/JSON or ssm:/name)")
    if source.startswith(SSM_PREFIX):
        from aws_lambda_powertools.utilities import parameters

        name = source[len(SSM_PREFIX):]
        try:
            value = parameters.get_parameter(name, max_age=300, decrypt=True)
        except Exception as error:  # any failure to fetch is a configuration error
            raise FlowError(f"MIMEOPS_CONFIG: cannot read SSM parameter {name}: {error}") from None
        return str(value)
    if "\n" not in source and not Path(source).is_absolute():
        try:
            packaged = PACKAGE_ROOT / source
            if packaged.is_file():  # a path inside the deployment package
                return str(packaged)
        except OSError:  # a long one-line flow is no file name
            pass
    return source  # a path or the flow itself: load_flow tells them apart


def marker_key() -> tuple[bytes, ...]:
    """$MIMEOPS_MARKER_KEY, else $MIMEOPS_MARKER_KEY_SECRET: a Secrets Manager secret
    (name or ARN), or `ssm:/name` for an SSM SecureString parameter; cached. Either
    may hold several keys, newest first, separated by whitespace (rotation)."""
    if os.environ.get(marker.ENV_KEY, "").strip():
        return marker.default_keys()
    source = os.environ.get("MIMEOPS_MARKER_KEY_SECRET", "").strip()
    if not source:
        if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):  # locally the key file is meant
            logger.warning("no marker key configured (MIMEOPS_MARKER_KEY_SECRET): retries "
                           "in another container may apply a rule twice")
        return marker.default_keys()
    from aws_lambda_powertools.utilities import parameters

    if source.startswith(SSM_PREFIX):
        value = parameters.get_parameter(source[len(SSM_PREFIX):], max_age=3600, decrypt=True)
    else:
        value = parameters.get_secret(source, max_age=3600)
    text = value if isinstance(value, str) else bytes(value).decode("utf-8")
    return marker.keys_from_text(text)


def load() -> Flow:
    """The flow with its marker key; with `organization_id`, the internal domains
    come from WorkMail (the flow file's list is the fallback if the lookup fails)."""
    flow = load_flow(flow_source())
    flow.marker_key = marker_key()
    if flow.organization_id:
        from mimeops_workmail.domains import organization_domains

        try:
            found = organization_domains(flow.organization_id)
        except Exception as error:  # keep mail flowing on the flow file's list
            logger.warning("ListMailDomains failed; using internal_domains from the flow",
                           extra={"error": str(error)[:300]})
        else:
            if found:
                flow.internal_domains = found
    if flow.directory_source == "workmail":
        from mimeops_workmail import directory

        directory.attach(flow)
    return flow
