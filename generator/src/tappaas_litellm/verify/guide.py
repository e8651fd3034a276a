"""Install guide commands that answer differently on this module, with the command that works.

``verify`` prints the note under the check that covers the guide's test, so an admin who follows
the guide sees the working command next to the result (README, "Where this deliberately differs
from the install guide").
"""

from __future__ import annotations

__all__ = ["GUIDE_COMMANDS", "guide_note"]

# check name -> (the guide's command and what it answers now, the command that works)
GUIDE_COMMANDS: dict[str, tuple[str, str]] = {
    "master-key": (
        'Step 4 `journalctl -u generate-litellm-secrets.service | grep "sk-"` finds nothing '
        "(no key is logged)",
        "sudo grep LITELLM_MASTER_KEY /etc/secrets/litellm.env",
    ),
    "health": (
        "Test 2 `curl http://localhost:4000/health` answers 401 (it calls every provider)",
        "curl http://localhost:4000/health/readiness",
    ),
    "redis": (
        "Test 4 `redis-cli PING` answers NOAUTH (Redis has a password)",
        'REDISCLI_AUTH="$(sudo cat /etc/secrets/litellm-redis.pass)" redis-cli PING',
    ),
    "auth": (
        "Test 5 `/key/info` with the master key answers 404 (only virtual keys are in the "
        "database)",
        'curl -H "Authorization: Bearer $LITELLM_MASTER_KEY" '
        '"http://localhost:4000/key/info?key=<virtual key>"',
    ),
    "backup-dirs": (
        "Test 8 `ls -lh /var/backup/` is refused (the folder is 0700 root)",
        "sudo ls -lh /var/backup/",
    ),
}


def guide_note(check_name: str) -> str | None:
    """One line for the check: the guide's command, and the one that works now."""
    entry = GUIDE_COMMANDS.get(check_name)
    if entry is None:
        return None
    changed, works = entry
    return f"{changed}; instead: {works}"
