"""Hostile probes for embed_nb (issue 9): each probe runs in its own subprocess and is classified
as clean / wrong / traceback / crash / hang / data loss / leak. See docs/hardening.md."""
