"""The AWS WorkMail side: Lambda entry point and the Message Flow / S3 adapters."""
