"""One S3 object as a seekable, read-only file, read by HTTP ranges.

`zipfile` needs to seek (the central directory is at the end of a zip): wrapped in
an `io.BufferedReader`, this gives it a file without downloading the object or
holding it in memory. Every range is pinned to the ETag first seen, so an object
replaced while it is read fails loudly instead of mixing two versions.
"""

from __future__ import annotations

import io
from typing import Any

BUFFER = 8 * 1024 * 1024  # bytes fetched per range at least: few requests, bounded memory


class S3Object(io.RawIOBase):
    """`s3://bucket/key` as a raw file: `readinto` is one ranged GetObject."""

    def __init__(self, client: Any, bucket: str, key: str) -> None:
        super().__init__()
        self.client, self.bucket, self.key = client, bucket, key
        head = client.head_object(Bucket=bucket, Key=key)
        self.size: int = head["ContentLength"]
        self.etag: str = head["ETag"]
        self.ranges: list[tuple[int, int]] = []  # (first, last) byte of each GET
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError(f"seek before the start of s3://{self.bucket}/{self.key}")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self.size - self._position)
        if wanted <= 0:
            return 0
        last = self._position + wanted - 1
        self.ranges.append((self._position, last))
        body = self.client.get_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag,
                                      Range=f"bytes={self._position}-{last}")["Body"]
        with body:
            data = body.read()
        view[:len(data)] = data
        self._position += len(data)
        return len(data)


def open_object(client: Any, bucket: str, key: str) -> io.BufferedReader:
    """The object as a buffered, seekable binary file."""
    return io.BufferedReader(S3Object(client, bucket, key), buffer_size=BUFFER)
