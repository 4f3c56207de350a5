"""`workmail://ORGANIZATION_ID/USER` PATHs of `mimeops preview`: a user's mailbox,
exported by WorkMail's StartMailboxExportJob to S3 and read from there as a zip.

Registered in the `mimeops.preview_sources` entry-point group, so the engine's CLI
never imports this package; boto3 loads in `open` only (without the 'aws' extra the
command says so in one line). Endpoints follow the standard AWS settings
(`AWS_ENDPOINT_URL_WORKMAIL`, `AWS_ENDPOINT_URL_S3`), so the same command runs against
WorkMail and against `mimeops serve`.
"""

from __future__ import annotations

import argparse
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from mimeops.errors import SourceError, SourceFailure
from mimeops.preview.sources import Item, Opened

if TYPE_CHECKING:
    from mimeops.cli.common import Parser
    from mimeops.cli.mailboxes import Status
    from mimeops_workmail.export_job import ExportRequest

ORGANIZATION = re.compile(r"m-[0-9a-f]{32}")
DEFAULT_PREFIX = "mimeops-preview"


def parse(url: str) -> tuple[str, str]:
    """(organization id, user) of `workmail://ORGANIZATION_ID/USER`, or SourceError."""
    parts = urlsplit(url)
    organization, entity = parts.netloc, unquote(parts.path.strip("/"))
    if not ORGANIZATION.fullmatch(organization) or not entity or "/" in entity:
        raise SourceError(f"{url}: expected workmail://ORGANIZATION_ID/USER, the id as "
                          "m- and 32 hex digits, the user as an address, name or id")
    return organization, entity


class WorkMailExportSource:
    """The `mimeops.preview_sources` plugin for WorkMail mailbox exports."""

    schemes = ("workmail",)
    extra = "aws"
    sleep: Callable[[float], None] = staticmethod(time.sleep)  # tests pass their clock's

    def add_options(self, command: Parser) -> None:
        group = command.add_argument_group(
            "WorkMail mailbox export (workmail://ORGANIZATION_ID/USER)")
        group.add_argument("--export-bucket", metavar="BUCKET",
                           help="the S3 bucket WorkMail writes the export to")
        group.add_argument("--export-role", metavar="ROLE_ARN",
                           help="the IAM role WorkMail assumes to write it")
        group.add_argument("--export-kms-key", metavar="KEY_ARN",
                           help="the symmetric KMS key that encrypts it")
        group.add_argument("--export-prefix", metavar="P", default=DEFAULT_PREFIX,
                           help=f"the key prefix in the bucket (default {DEFAULT_PREFIX})")

    def open(self, url: str, args: argparse.Namespace, status: Status) -> Opened:
        organization, entity = parse(url)
        missing = [f"--export-{name}" for name in ("bucket", "role", "kms-key")
                   if not getattr(args, f"export_{name.replace('-', '_')}")]
        if missing:
            raise SourceError(f"{url}: a mailbox export needs {', '.join(missing)}")
        from mimeops_workmail.export_job import ExportRequest

        request = ExportRequest(organization, entity, args.export_bucket, args.export_role,
                                args.export_kms_key, args.export_prefix)
        return export_and_open(url, request, lambda note, percent: status(
            f"{url}: {note}", percent), self.sleep)


def export_and_open(url: str, request: ExportRequest, status: Status,
                    sleep: Callable[[float], None]) -> Opened:
    """Run the export job, then open its zip in S3 and list the messages in it."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mimeops_workmail import clients
    from mimeops_workmail.export_job import ExportFailed, run_export

    try:
        workmail, s3 = clients.preview_client("workmail"), clients.preview_client("s3")
        key = run_export(workmail, request, status, sleep=sleep)
    except ExportFailed as error:
        raise SourceFailure(str(error)) from None
    except (ClientError, BotoCoreError) as error:
        raise SourceError(f"{url}: {_aws_says(error)}") from None
    where = f"s3://{request.bucket}/{key}"
    try:
        return _zip(url, where, s3, request.bucket, key)
    except (ClientError, BotoCoreError, zipfile.BadZipFile, OSError) as error:
        raise SourceFailure(f"cannot read the export {where}: {_aws_says(error)}") from None


def _zip(url: str, where: str, s3: Any, bucket: str, key: str) -> Opened:
    from mimeops_workmail.s3_object import open_object

    handle = open_object(s3, bucket, key)
    try:
        archive = zipfile.ZipFile(handle)
    except BaseException:
        handle.close()
        raise
    entries = [info for info in archive.infolist() if not info.is_dir()]

    def close() -> None:
        archive.close()
        handle.close()

    return Opened(url, len(entries), _items(url, archive, entries), close=close)


def _items(url: str, archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo]) -> Iterator[Item]:
    for info in entries:
        yield Item(f"{url}/{info.filename}", partial(archive.read, info))


def _aws_says(error: BaseException) -> str:
    """`Code: message` of an AWS error, else the error's text, on one line."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and response.get("Error"):
        found = response["Error"]
        text = f"{found.get('Code', 'Error')}: {found.get('Message') or 'no message'}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


SOURCE = WorkMailExportSource()
