"""A WorkMail mailbox export job run to its end, or cancelled on Ctrl-C.

Started once (an idempotent ClientToken), polled with back-off while its
EstimatedProgress is shown. Where the `.zip` landed is the result; a job that FAILED
or was CANCELLED is an `ExportFailed` carrying WorkMail's ErrorInfo.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FIRST_WAIT = 1.0   # seconds before the first DescribeMailboxExportJob
LONGEST_WAIT = 15.0
BACK_OFF = 1.5
DESCRIPTION = "mimeops preview"


class ExportFailed(Exception):
    """The job ended FAILED or CANCELLED; the message says which and why."""


@dataclass(frozen=True)
class ExportRequest:
    """What StartMailboxExportJob is asked for (docs/preview.md)."""

    organization_id: str
    entity: str
    bucket: str
    role_arn: str
    kms_key_arn: str
    prefix: str

    def start_parameters(self, token: str) -> dict[str, str]:
        return {"ClientToken": token, "OrganizationId": self.organization_id,
                "EntityId": self.entity, "Description": DESCRIPTION,
                "RoleArn": self.role_arn, "KmsKeyArn": self.kms_key_arn,
                "S3BucketName": self.bucket, "S3Prefix": self.prefix}


def object_key(s3_path: str, bucket: str) -> str:
    """The zip's key from S3Path, which may also start with the bucket's name."""
    path = s3_path.lstrip("/")
    return path[len(bucket) + 1:] if path.startswith(bucket + "/") else path


def run_export(workmail: Any, request: ExportRequest, status: Callable[[str, int | None], None],
               *, sleep: Callable[[float], None] = time.sleep) -> str:
    """Start the job, wait for it (Ctrl-C cancels it) and return the zip's key."""
    token = str(uuid.uuid4())  # the same for any retry of this Start: one job, not two
    job_id: str = workmail.start_mailbox_export_job(**request.start_parameters(token))["JobId"]
    try:
        return _wait(workmail, request, job_id, status, sleep)
    except KeyboardInterrupt:
        try:
            workmail.cancel_mailbox_export_job(ClientToken=str(uuid.uuid4()), JobId=job_id,
                                               OrganizationId=request.organization_id)
        except Exception as error:  # Ctrl-C still stops the preview; say what is left
            status(f"export job {job_id} could not be cancelled ({error}): "
                   "cancel it with CancelMailboxExportJob", None)
        else:
            status(f"export job {job_id} cancelled", None)
        raise


def _wait(workmail: Any, request: ExportRequest, job_id: str,
          status: Callable[[str, int | None], None], sleep: Callable[[float], None]) -> str:
    wait = FIRST_WAIT
    while True:
        job = workmail.describe_mailbox_export_job(JobId=job_id,
                                                   OrganizationId=request.organization_id)
        state = job["State"]
        status(f"export job {job_id} {state}", job.get("EstimatedProgress"))
        if state == "COMPLETED":
            return object_key(job["S3Path"], request.bucket)
        if state in ("FAILED", "CANCELLED"):
            raise ExportFailed(f"export job {job_id} {state}: "
                               f"{job.get('ErrorInfo') or 'WorkMail gave no reason'}")
        sleep(wait)
        wait = min(LONGEST_WAIT, wait * BACK_OFF)
