"""The install guide's Test 2: the API's and the models' health endpoints.

See :mod:`tappaas_litellm.verify.checks` for how checks run.
"""

from __future__ import annotations

from tappaas_litellm.verify.context import Context
from tappaas_litellm.verify.registry import CheckGroup, plural
from tappaas_litellm.verify.result import CheckFailedError, CheckResult, failed, passed, skipped

GROUP = CheckGroup()
check = GROUP.check


# --- test 2: health ---------------------------------------------------------------------


@check("health", "API health endpoints", "Test 2")
def check_health(ctx: Context) -> CheckResult:
    """Public liveliness and readiness, plus the authenticated readiness details."""
    live = ctx.http("GET", "/health/liveliness")
    ctx.require_http(live, "GET /health/liveliness", json_body=False)
    ready = ctx.http("GET", "/health/readiness")
    evidence = live.evidence() + "\n" + ready.evidence()
    data = ready.json()
    db = data.get("db") if isinstance(data, dict) else None
    if not ready.ok or not isinstance(data, dict) or data.get("status") != "healthy":
        what = ready.error if ready.status is None else ready.message()
        raise CheckFailedError(
            f"/health/readiness not healthy: {what}" + (f" (db: {db})" if db else ""),
            "sudo systemctl status postgresql; sudo journalctl -u podman-litellm -n 100",
            evidence,
        )
    if ctx.target.database and db != "connected":
        raise CheckFailedError(
            f"proxy is not connected to PostgreSQL (readiness says db: {db})",
            "sudo systemctl status postgresql litellm-postgresql-password; "
            "sudo journalctl -u podman-litellm | grep -i -e prisma -e database",
            evidence,
        )
    details = ctx.http("GET", "/health/readiness/details", key=ctx.master_key())
    info = ctx.require_http(details, "GET /health/readiness/details (master key)")
    evidence += "\n" + details.evidence()
    version = info.get("litellm_version", "?") if isinstance(info, dict) else "?"
    cache = info.get("cache") if isinstance(info, dict) else None
    db_text = db if ctx.target.database else f"{db} (no database in this stack)"
    return passed(f"alive and ready: LiteLLM {version}, db {db_text}, cache {cache}", evidence)


@check("model-health", "Model endpoints healthy (/health)", "Test 2")
def check_model_health(ctx: Context) -> CheckResult:
    """``/health`` with the master key: it calls every configured model for real."""
    key = ctx.master_key()
    if not ctx.model_names():
        return skipped("no model configured yet; /health has nothing to call")
    response = ctx.http("GET", "/health", key=key, timeout=ctx.target.model_timeout)
    data = ctx.require_http(response, "GET /health (master key)")
    if not isinstance(data, dict):
        raise CheckFailedError("GET /health: unexpected answer", "", response.evidence())
    healthy = data.get("healthy_endpoints") or []
    unhealthy = data.get("unhealthy_endpoints") or []
    if unhealthy:
        names = []
        for entry in unhealthy:
            if isinstance(entry, dict):
                error = " ".join(str(entry.get("error", "")).split())[:120]
                names.append(
                    f"{entry.get('model', '?')} ({error})"
                    if error
                    else str(entry.get("model", "?"))
                )
        return failed(
            f"{len(unhealthy)} of {len(healthy) + len(unhealthy)} model endpoints unhealthy: "
            + "; ".join(names),
            "check the provider API key and api_base of that model (UI: Models); "
            "sudo journalctl -u podman-litellm -n 100",
            response.evidence(),
        )
    return passed(f"{plural(len(healthy), 'model endpoint')} healthy", response.evidence())
