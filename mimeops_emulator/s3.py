"""S3 as WorkMail uses it: reading the updated message of a Put, writing the `.zip`
of a mailbox export job.

boto3 is imported on first use only, so ``import mimeops_emulator`` stays cheap for
code paths (and tests) that never Put. The client is built once and shared: botocore
clients are thread-safe, building them is not.
"""

from __future__ import annotations

import threading
from typing import IO, TYPE_CHECKING, Any

from .errors import invalid_content_location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

DUMMY_CREDENTIAL = "testing"


class S3Store:
    """Reads ``s3Reference`` objects from, and writes exports to, ``endpoint_url`` (AWS
    S3 when None).

    With an explicit endpoint (moto, LocalStack, MinIO) dummy credentials are used, so
    a developer's AWS profile is never consulted or sent. Without one, the standard
    boto3 chain applies (credentials, ``AWS_ENDPOINT_URL_S3``), reading real S3.
    """

    def __init__(self, endpoint_url: str | None, region: str) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self._client: S3Client | None = None
        self._lock = threading.Lock()

    def _get_client(self) -> S3Client:
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"mode": "standard", "total_max_attempts": 2},
                    connect_timeout=5,
                    read_timeout=30,
                )
                kwargs: dict[str, Any] = {"region_name": self.region, "config": config}
                if self.endpoint_url is not None:
                    kwargs.update(
                        endpoint_url=self.endpoint_url,
                        aws_access_key_id=DUMMY_CREDENTIAL,
                        aws_secret_access_key=DUMMY_CREDENTIAL,
                    )
                self._client = boto3.session.Session().client("s3", **kwargs)
            return self._client

    def read(self, reference: dict[str, str]) -> bytes:
        """The object's bytes; InvalidContentLocation when it cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, key = reference["bucket"], reference["key"]
        version = reference.get("objectVersion")
        where = f"s3://{bucket}/{key}" + (f" (version {version})" if version else "")
        try:
            client = self._get_client()
            if version is None:
                response = client.get_object(Bucket=bucket, Key=key)
            else:
                response = client.get_object(Bucket=bucket, Key=key, VersionId=version)
            return response["Body"].read()
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "Unknown")
            detail = error.get("Message", "")
            raise invalid_content_location(f"{where}: {code} {detail}".rstrip()) from exc
        except BotoCoreError as exc:
            raise invalid_content_location(f"{where}: {exc}") from exc

    def upload(self, bucket: str, key: str, body: IO[bytes], kms_key_arn: str) -> None:
        """Write `body` to s3://bucket/key, encrypted with the KMS key (SSE-KMS), as a
        mailbox export does; the S3 error text (ClientError, BotoCoreError) otherwise."""
        self._get_client().upload_fileobj(body, bucket, key, ExtraArgs={
            "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_arn})
