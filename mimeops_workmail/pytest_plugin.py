"""The test kit: a pytest plugin with the `workmail` fixture (docs/extending.md).

Installing `mimeops[local]` registers it (entry point `pytest11`), so an organization
tests its own flows and plugins in its own repository, through the real Lambda handler
against the embedded WorkMail emulator (moto's S3 and the Message Flow API on
127.0.0.1, started once per test session):

    def test_my_flow(workmail):
        inv = workmail.invoke(raw_bytes, flow="flow.yaml",   # path, YAML text or dict
                              direction="INBOUND", mail_from="a@evil.test",
                              recipients=["bob@example.com"])
        inv.response   # the handler's synchronous response (dict)
        inv.message    # the bytes WorkMail would deliver (updated, or the original)

Importing this module costs nothing: the emulator and the handler load when a test
first asks for the fixture.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from mimeops_emulator import LocalAWS
    from mimeops_workmail.local import LocalWorkMail


@pytest.fixture(scope="session")
def mimeops_local_aws() -> Iterator[LocalAWS]:
    """moto's S3 server and the WorkMail emulator, for the whole session."""
    try:
        from mimeops_emulator import LocalAWS
        from mimeops_workmail import app  # noqa: F401  (boto3, powertools)
    except ModuleNotFoundError as error:
        pytest.fail(f"the workmail fixture needs mimeops[local] (no module named "
                    f"{error.name!r}): pip install 'mimeops[local]'", pytrace=False)
    with LocalAWS() as aws:
        yield aws


@pytest.fixture
def workmail(mimeops_local_aws: LocalAWS) -> LocalWorkMail:
    """The real Lambda handler against the embedded emulator: `workmail.invoke(raw,
    flow=..., direction=..., mail_from=..., recipients=[...])` -> `.response`,
    `.message` (also `.updated`, and `directory=` for a static directory file)."""
    from mimeops_workmail.local import LocalWorkMail

    return LocalWorkMail(mimeops_local_aws)
