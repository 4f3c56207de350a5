"""linkguard: a mimeops plugin (transforms `defang_urls`, `attachment_manifest`; condition
`deceptive_link`), written only against the public API: `mimeops.Mail`, `mimeops.Context`.
"""

from linkguard.conditions import DeceptiveLink
from linkguard.transforms import AttachmentManifest, DefangUrls

__all__ = ["AttachmentManifest", "DeceptiveLink", "DefangUrls"]
