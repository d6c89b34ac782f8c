"""`python -m evse_rules` is the `evse-rules` command."""

from evse_rules.cli import main

raise SystemExit(main())
