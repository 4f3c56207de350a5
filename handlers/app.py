"""Lambda entry point named by template.yaml (`Handler: handlers.app.lambda_handler`).

The handler itself lives in the installable package `mimeops_workmail`; this folder
only keeps the name the template and deployed stacks point at, so `pip install`
never puts a generic top-level package called `handlers` into site-packages.
"""

from mimeops_workmail.app import lambda_handler

__all__ = ["lambda_handler"]
