"""`python -m mimeops`: the `mimeops` command without the console script."""

from mimeops.cli import main

raise SystemExit(main())
