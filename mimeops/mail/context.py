"""What a transform or condition knows of one message beyond its bytes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from mimeops.directory.base import Directory
from mimeops.directory.records import User
from mimeops.mail.envelope import Envelope
from mimeops.mail.template import Template
from mimeops.mail.who import SenderValues, Who
from mimeops.mime.addresses import domain_of, normalize_address


@dataclass(frozen=True, eq=False)
class Context:
    """The per-message context a flow hands every transform and condition.

    Explicit, so that nothing travels in magic keys: the envelope, who the sender is
    and whether they are one of ours, the organization's directory answers, the
    template fields of this message (`{sender}`, `{subject}`, `{sender.*}`, ...), and
    the per-message secret the HTML guard names its elements with. The built-in
    conditions ask exactly these questions; a plugin's may ask the same.

    Directory answers (`sender_user`, `sender_groups`, `recipient_in`, `impersonated`)
    are looked up on first use and remembered for the message. They raise
    `DirectoryUnavailable` (transient: the flow's `on_error` decides) when the directory
    fails, and `DirectoryMissing` when none is configured: a transform or condition
    that asks should say so with a class attribute `needs_directory = True`, so that
    transports refuse the flow at load instead.
    """

    envelope: Envelope
    #: The base template fields of this message (see `values` for all of them).
    fields: Mapping[str, str] = field(default_factory=dict)
    #: The per-message secret of the HTML guard (`mimeops.mime.guard`), derived from the
    #: marker key: unpredictable to a sender. Pass it to `Body.insert(guard_token=...)`.
    guard_token: str | None = None
    #: The From header's address as written ("" when there is none).
    sender: str = ""
    #: The From header's display name, decoded.
    sender_name: str = ""
    #: The organization's own domains (the flow's `internal_domains`).
    internal_domains: frozenset[str] = frozenset()
    directory: Directory | None = None

    @property
    def direction(self) -> str:
        """INBOUND or OUTBOUND."""
        return self.envelope.direction

    @property
    def mail_from(self) -> str:
        """The envelope sender (MAIL FROM) as WorkMail reports it."""
        return self.envelope.mail_from

    @cached_property
    def recipients(self) -> list[str]:
        """The envelope recipients (Bcc included), normalized."""
        return [normalize_address(r) for r in self.envelope.recipients]

    def is_internal(self, address: str) -> bool:
        """Whether the address's domain is one of `internal_domains`."""
        return domain_of(address) in self.internal_domains

    @cached_property
    def sender_internal(self) -> bool:
        """Internal only when the envelope sender AND the From header are ours.

        A From that claims our domain over an outside envelope is external: that is what
        spoofing looks like.
        """
        return self.is_internal(self.mail_from) and self.is_internal(self.sender)

    @cached_property
    def _who(self) -> Who:
        return Who(self, self.directory)

    @property
    def sender_user(self) -> User | None:
        """The directory's record of the sender, when the sender is internal."""
        return self._who.sender_user

    @property
    def sender_groups(self) -> frozenset[str]:
        """The internal sender's groups (lower-cased, nested included); none for outsiders."""
        return self._who.sender_groups

    def recipient_in(self, groups: frozenset[str]) -> bool:
        """Some internal recipient is in one of `groups` (lower-cased names)."""
        return self._who.recipient_in(groups)

    @property
    def impersonated(self) -> str | None:
        """The address of the organization user an external sender's display name copies."""
        return self._who.impersonated

    @property
    def lookalike(self) -> str | None:
        """The internal domain the From or envelope sender's domain imitates (no directory
        needed: it compares with `internal_domains`)."""
        return self._who.lookalike

    @cached_property
    def values(self) -> Mapping[str, str]:
        """Every template field of this message: `fields`, and the `{sender.*}` directory
        fields (looked up when first read)."""
        return SenderValues(self.fields, self._who)

    def render(self, template: str, *, html: bool = False) -> str:
        """`template` with the flow's fields filled in for this message: values stripped of
        line breaks and bidi controls, and HTML-escaped with `html=True`.

        Raises FlowError for an unknown field: compile templates you know at load time
        (a transform's constructor: `mimeops.Template`) to report that before any mail
        flows."""
        return _compiled(template).render(self.values, escape_html=html)


@lru_cache(maxsize=256)
def _compiled(template: str) -> Template:
    return Template(template, "template")
