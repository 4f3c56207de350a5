"""WorkMail's mailbox export jobs (json-1.1): Start, Describe, List and Cancel.

A job exports the mailbox of a user seeded with `Emulator.add_mailbox` (`mimeops
serve --mailbox EMAIL=PATH`) as one `.zip` of MIME messages, written SSE-KMS-encrypted
to `S3BucketName` under `S3Prefix` in the emulator's S3 (moto), as WorkMail does. A
job is RUNNING for `seconds` of the injectable `clock`, its EstimatedProgress rising
with the time passed, then COMPLETED (the zip written when a Describe, List or Cancel
first sees the time is up), or FAILED with ErrorInfo when the zip cannot be written
(no such bucket). Requests are checked as the service does: members against their
shapes (ValidationException), role and key ARNs and the bucket name
(InvalidParameterException), the organization (OrganizationNotFoundException), the
user (EntityNotFoundException), the ClientToken (the same token and parameters give
the same job; other parameters are an InvalidParameterException) and the number of
jobs running at once (LimitExceededException).
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .directory import DirectoryBook
from .errors import ServiceError, validation_error
from .s3 import S3Store
from .shapes import ORGANIZATION_ID, StringShape, page, require
from .state import State

CLIENT_TOKEN = StringShape(1, 128, r"[\x21-\x7e]+")
ENTITY = StringShape(1, 256, r"[a-zA-Z0-9._%+@-]+")
JOB_ID = StringShape(1, 63, r"[A-Za-z0-9-]+")
PREFIX = StringShape(1, 1023, r"[A-Za-z0-9!_.*'()/-]+")
DESCRIPTION = StringShape(0, 1023, r"[\S\s]*")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]{1,128}")
BUCKET = re.compile(r"(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
CONCURRENT_JOBS = 10   # RUNNING jobs per organization
KEPT_SECONDS = 7 * 24 * 3600  # ListMailboxExportJobs: jobs of the last seven days
SPOOL_BYTES = 16 * 1024 * 1024  # the zip is built in memory up to this, then on disk

Messages = Callable[[], Iterable[bytes]]


@dataclass
class Job:
    """One export job, as Describe reports it."""

    id: str
    org_id: str
    entity_id: str
    token: str
    request: dict[str, str]
    start: float
    state: str = "RUNNING"
    progress: int = 0
    error: str | None = None
    end: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def key(self) -> str:
        """Where the zip goes in the bucket (and S3Path)."""
        return f"{self.request['S3Prefix'].rstrip('/')}/{self.id}.zip"

    def listed(self) -> dict[str, Any]:
        """The MailboxExportJob shape of ListMailboxExportJobs."""
        found = {"JobId": self.id, "EntityId": self.entity_id,
                 "Description": self.request.get("Description"),
                 "S3BucketName": self.request["S3BucketName"], "S3Path": self.key,
                 "EstimatedProgress": self.progress, "State": self.state,
                 "StartTime": self.start, "EndTime": self.end}
        return {k: v for k, v in found.items() if v is not None}

    def described(self) -> dict[str, Any]:
        """DescribeMailboxExportJob's answer."""
        found = {**self.listed(), "RoleArn": self.request["RoleArn"],
                 "KmsKeyArn": self.request["KmsKeyArn"], "S3Prefix": self.request["S3Prefix"],
                 "ErrorInfo": self.error}
        found.pop("JobId")
        return {k: v for k, v in found.items() if v is not None}


class ExportBook:
    """Mailboxes and export jobs, thread-safe (the server answers on many threads)."""

    def __init__(self, state: State, directories: DirectoryBook, s3: S3Store, *,
                 clock: Callable[[], float] = time.time, seconds: float = 2.0,
                 limit: int = CONCURRENT_JOBS) -> None:
        self.state = state
        self.directories = directories
        self.s3 = s3
        self.clock = clock
        self.seconds = seconds
        self.limit = limit
        self._lock = threading.Lock()
        self._mailboxes: dict[tuple[str, str], Messages] = {}
        self._jobs: dict[str, Job] = {}

    def add_mailbox(self, org_id: str, entity_id: str, messages: Messages) -> None:
        """The messages a job for that user exports (read when the job completes)."""
        with self._lock:
            self._mailboxes[(org_id, entity_id)] = messages

    def jobs(self) -> list[Job]:
        """Every job, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def clear(self) -> None:
        """Forget mailboxes and jobs."""
        with self._lock:
            self._mailboxes.clear()
            self._jobs.clear()

    # -- operations (request body -> response body) -------------------------------------

    def start_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """StartMailboxExportJob -> {JobId}."""
        token, org_id, entity, role, key, bucket, prefix = require(
            body, ("ClientToken", CLIENT_TOKEN), ("OrganizationId", ORGANIZATION_ID),
            ("EntityId", ENTITY), ("RoleArn", StringShape(20, 2048, r"[\S\s]*")),
            ("KmsKeyArn", StringShape(20, 2048, r"[\S\s]*")),
            ("S3BucketName", StringShape(1, 63, r"[\S\s]*")), ("S3Prefix", PREFIX))
        description = body.get("Description")
        if description is not None:
            problems = DESCRIPTION.violations(str(description), "description")
            if problems:
                raise validation_error(problems)
        _check_arns(role, key, bucket)
        entity_id = self._user(org_id, entity)
        request = {"EntityId": entity_id, "RoleArn": role, "KmsKeyArn": key,
                   "S3BucketName": bucket, "S3Prefix": prefix}
        if description is not None:
            request["Description"] = str(description)
        with self._lock:
            earlier = next((j for j in self._jobs.values()
                            if j.org_id == org_id and j.token == token), None)
            if earlier is not None:
                if earlier.request != request:
                    raise _invalid("The ClientToken was already used for a different mailbox "
                                   "export job.")
                return {"JobId": earlier.id}
            others = [j for j in self._jobs.values() if j.org_id == org_id]
        for other in others:
            self._advance(other)  # a job whose time is up is no longer running
        with self._lock:
            running = sum(j.state == "RUNNING" for j in others)
            if running >= self.limit:
                raise ServiceError("LimitExceededException", 400,
                                   f"The organization already has {running} mailbox export "
                                   f"jobs running (at most {self.limit}).")
            job = Job(str(uuid.uuid4()), org_id, entity_id, token, request, self.clock())
            self._jobs[job.id] = job
        return {"JobId": job.id}

    def describe_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """DescribeMailboxExportJob."""
        job_id, org_id = require(body, ("JobId", JOB_ID), ("OrganizationId", ORGANIZATION_ID))
        job = self._job(org_id, job_id)
        self._advance(job)
        return job.described()

    def list_jobs(self, body: dict[str, Any]) -> dict[str, Any]:
        """ListMailboxExportJobs: the organization's jobs of the last seven days, newest
        first, paged."""
        (org_id,) = require(body, ("OrganizationId", ORGANIZATION_ID))
        self._organization(org_id)
        since = self.clock() - KEPT_SECONDS
        with self._lock:
            jobs = [j for j in self._jobs.values() if j.org_id == org_id and j.start >= since]
        for job in jobs:
            self._advance(job)
        return page(body, "Jobs", [j.listed() for j in reversed(jobs)])

    def cancel_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """CancelMailboxExportJob: a RUNNING job becomes CANCELLED; a finished one stays."""
        _, job_id, org_id = require(body, ("ClientToken", CLIENT_TOKEN), ("JobId", JOB_ID),
                                    ("OrganizationId", ORGANIZATION_ID))
        job = self._job(org_id, job_id)
        with job.lock:
            if self._advance_locked(job) == "RUNNING":
                job.state, job.end = "CANCELLED", self.clock()
        return {}

    def operations(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        """X-Amz-Target operation name -> handler."""
        return {"StartMailboxExportJob": self.start_job,
                "DescribeMailboxExportJob": self.describe_job,
                "ListMailboxExportJobs": self.list_jobs,
                "CancelMailboxExportJob": self.cancel_job}

    # -- the job's life -----------------------------------------------------------------

    def _advance(self, job: Job) -> str:
        with job.lock:
            return self._advance_locked(job)

    def _advance_locked(self, job: Job) -> str:
        """Move a RUNNING job on by the clock; write its zip when its time is up."""
        if job.state != "RUNNING":
            return job.state
        elapsed = self.clock() - job.start
        if elapsed < self.seconds:
            job.progress = min(99, int(100 * elapsed / self.seconds))
            return job.state
        job.end = job.start + self.seconds
        try:
            self._write(job)
        except Exception as error:  # the S3 write failed: the job fails, as on AWS
            job.state, job.error = "FAILED", _reason(job, error)
        else:
            job.state, job.progress = "COMPLETED", 100
        return job.state

    def _write(self, job: Job) -> None:
        with self._lock:
            messages = self._mailboxes.get((job.org_id, job.entity_id), lambda: ())
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
                for number, raw in enumerate(messages(), 1):
                    archive.writestr(f"messages/{number:06}.eml", raw)
            spool.seek(0)
            self.s3.upload(job.request["S3BucketName"], job.key, spool,
                           job.request["KmsKeyArn"])

    # -- lookups --------------------------------------------------------------------------

    def _organization(self, org_id: str) -> None:
        if self.state.domains(org_id) is None:
            raise ServiceError("OrganizationNotFoundException", 400,
                               f"Organization {org_id} does not exist.")

    def _user(self, org_id: str, reference: str) -> str:
        """The id of the user `reference` names (id, address or name)."""
        self._organization(org_id)
        try:
            entity = self.directories.organization(org_id).find(reference)
        except ServiceError:
            entity = None
        if entity is None or entity.type != "USER":
            raise ServiceError("EntityNotFoundException", 400,
                               f"The user or resource {reference} was not found in the "
                               "organization.")
        return entity.id

    def _job(self, org_id: str, job_id: str) -> Job:
        self._organization(org_id)
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.org_id != org_id:
            raise ServiceError("EntityNotFoundException", 400,
                               f"The mailbox export job {job_id} was not found.")
        return job


def _check_arns(role: str, key: str, bucket: str) -> None:
    if not ROLE_ARN.fullmatch(role):
        raise _invalid(f"RoleArn {role} is not the ARN of an IAM role "
                       "(arn:aws:iam::ACCOUNT:role/NAME).")
    if not KMS_KEY_ARN.fullmatch(key):
        raise _invalid(f"KmsKeyArn {key} is not the ARN of a KMS key "
                       "(arn:aws:kms:REGION:ACCOUNT:key/ID).")
    if not BUCKET.fullmatch(bucket):
        raise _invalid(f"S3BucketName {bucket} is not a valid S3 bucket name.")


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", 400, message)


def _reason(job: Job, error: Exception) -> str:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    where = f"s3://{job.request['S3BucketName']}/{job.key}"
    return f"The export could not be written to {where}: {code or type(error).__name__}"
