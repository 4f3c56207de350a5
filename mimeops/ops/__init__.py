"""The operations a rule applies, each a small class over the MIME model."""
