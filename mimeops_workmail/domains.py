"""The organization's mail domains from WorkMail ListMailDomains, once per cold start."""

from __future__ import annotations

from mimeops.mime.addresses import normalize_domain
from mimeops_workmail import clients


def organization_domains(organization_id: str) -> frozenset[str]:
    """Every mail domain of the organization (paginated), normalized for matching."""
    client = clients.client("workmail")
    domains: set[str] = set()
    token = None
    while True:
        kwargs = {"OrganizationId": organization_id, "MaxResults": 100}
        if token:
            kwargs["NextToken"] = token
        page = client.list_mail_domains(**kwargs)
        domains.update(normalize_domain(d["DomainName"]) for d in page.get("MailDomains", []))
        token = page.get("NextToken")
        if not token:
            return frozenset(domains)
