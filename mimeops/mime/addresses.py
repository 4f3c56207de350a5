"""Address and domain patterns: `user@example.com`, `example.com`, `*.example.com`.

Matching is case-insensitive and IDN-aware: both sides are compared in their
ASCII (IDNA) form, normalized by email-validator, so `bücher.example` and
`xn--bcher-kva.example` are the same domain.
"""

from __future__ import annotations

from email.utils import getaddresses
from functools import lru_cache

from mimeops.errors import FlowError

# email_validator is imported where used: it compiles its regexes at import
# (~25 ms of cold start), and most flows need it only for address patterns.


@lru_cache(maxsize=4096)
def domain_of(address: str) -> str:
    """The ASCII, lower-cased domain of an address ('' when it has none)."""
    _, at, domain = address.strip().strip("<>").rpartition("@")
    return normalize_domain(domain) if at else ""


@lru_cache(maxsize=4096)
def normalize_domain(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    if domain.isascii():
        return domain
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email("x@" + domain, check_deliverability=False).ascii_domain
    except EmailNotValidError:
        return domain


# email-validator's messages speak of the part after an address's @-sign: said of a domain.
_DOMAIN_WORDING = (("is not valid. It should have a period", "has no period"),
                   (" immediately after the @-sign", " at its start"),
                   ("The part after the @-sign", "It"), ("An email address", "A domain name"),
                   ("After the @-sign, p", "P"), ("after the @-sign", "in it"))


def checked_domain(text: str, where: str) -> str:
    """The ASCII (IDNA) form of a domain name a flow lists, or FlowError naming it.

    email-validator's rules for the part after the @-sign (labels, characters and
    lengths, IDNA, a period, special-use names such as `localhost`): one typo in
    `internal_domains` (`example..com`) would otherwise make every colleague external.
    One trailing period (the absolute DNS form) is allowed.
    """
    from email_validator import EmailNotValidError, validate_email

    name = text.strip()
    bare = name[:-1] if name.endswith(".") and not name.endswith("..") else name
    try:
        return validate_email("x@" + bare, check_deliverability=False).ascii_domain
    except EmailNotValidError as error:
        reason = str(error)
        for said, meant in _DOMAIN_WORDING:
            reason = reason.replace(said, meant)
        raise FlowError(f"{where}: {name!r} is not a valid domain name: "
                        f"{reason[:1].lower()}{reason[1:].rstrip('.')}") from None


def normalize_address(address: str) -> str:
    local, at, _ = address.strip().strip("<>").rpartition("@")
    return f"{local.lower()}@{domain_of(address)}" if at else address.strip().lower()


def header_addresses(values: list[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs from To/Cc/From values, decoded.

    The stdlib parser recurses once per nested comment and per group opened
    inside a group: a sender's `To: ((((...` or `g:g:g:...` would raise
    RecursionError. `flatten` first makes both one level deep, in one pass.
    """
    return [(name, addr) for name, addr in getaddresses([flatten(v) for v in values]) if addr]


def flatten(value: str) -> str:
    """`value` with comments nested in comments and groups nested in groups made
    blanks, so parsing it cannot recurse more than one level. Quoted strings, escapes
    and angle-bracket routes are respected; everything else is kept as it is."""
    out: list[str] = []
    depth = 0  # comment nesting
    quoted = angle = group = False
    escape = False
    for char in value:
        if escape:
            escape = False
        elif char == "\\" and (quoted or depth):
            escape = True
        elif quoted:
            quoted = char != '"'
        elif char == "(":
            depth += 1
            if depth > 1:
                char = " "
        elif char == ")" and depth:
            depth -= 1
            if depth:
                char = " "
        elif depth:
            pass
        elif char == '"':
            quoted = True
        elif char == "<":
            angle = True
        elif char == ">":
            angle = False
        elif char == ":" and not angle:
            if group:
                char = " "
            group = True
        elif char == ";":
            group = False
        out.append(char)
    return "".join(out)


class Pattern:
    """One address or domain pattern, checked at load time."""

    __slots__ = ("kind", "value")

    def __init__(self, text: object, where: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise FlowError(f"{where}: expected an address or domain pattern, got {text!r}")
        text = text.strip()
        if "@" in text:
            from email_validator import EmailNotValidError, validate_email

            try:
                validate_email(text, check_deliverability=False)
            except EmailNotValidError as error:
                raise FlowError(f"{where}: invalid address pattern {text!r}: {error}") from None
            self.kind, self.value = "address", normalize_address(text)
        elif text.startswith("*."):
            self.kind, self.value = "subdomain", "." + self._domain(text[2:], where)
        else:
            self.kind, self.value = "domain", self._domain(text, where)

    @staticmethod
    def _domain(text: str, where: str) -> str:
        if "*" in text or " " in text or not text.strip("."):
            raise FlowError(f"{where}: invalid domain pattern {text!r}")
        return checked_domain(text, where)

    def matches(self, address: str) -> bool:
        if self.kind == "address":
            return normalize_address(address) == self.value
        domain = domain_of(address)
        if self.kind == "domain":
            return domain == self.value
        return domain.endswith(self.value)


def patterns(value: object, where: str) -> list[Pattern]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise FlowError(f"{where}: expected at least one pattern")
    return [Pattern(item, f"{where}[{i}]" if isinstance(value, list) else where)
            for i, item in enumerate(items)]
