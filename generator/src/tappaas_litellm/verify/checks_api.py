"""The install guide's Tests 5 to 7: authentication, model management, a complete request.

See :mod:`tappaas_litellm.verify.checks` for how checks run.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

from tappaas_litellm.verify.context import Context
from tappaas_litellm.verify.registry import CheckGroup, plural
from tappaas_litellm.verify.result import CheckFailedError, CheckResult, failed, passed, skipped

GROUP = CheckGroup()
check = GROUP.check


# --- test 5: authentication -------------------------------------------------------------


@check("auth", "API authentication works", "Test 5")
def check_auth(ctx: Context) -> CheckResult:
    """No key and a wrong key are refused; the master key from the secrets file works.

    The key-info part of the guide's test 5 runs in ``request-flow`` with the temporary
    virtual key (``/key/info`` describes the key you call it with; the master key itself
    is not stored in the database).
    """
    key = ctx.master_key()
    path = "/v1/models"
    anonymous = ctx.http("GET", path)
    wrong = ctx.http("GET", path, key="sk-verify-wrong-" + uuid.uuid4().hex)
    evidence = anonymous.evidence() + "\n" + wrong.evidence()
    for response, who in ((anonymous, "without a key"), (wrong, "with a wrong key")):
        if response.status is None:
            ctx.require_http(response, f"GET {path}")
        if response.ok:
            return failed(
                f"GET {path} {who} succeeds (HTTP {response.status}): the API is open",
                "general_settings.master_key must be os.environ/LITELLM_MASTER_KEY; "
                "sudo systemctl restart podman-litellm",
                evidence,
            )
    good = ctx.http("GET", path, key=key)
    evidence += "\n" + good.evidence()
    if good.status is not None and not good.ok:
        return failed(
            f"the master key from {ctx.target.secrets_file} is rejected ({good.message()})",
            "the proxy may run with an older key: sudo systemctl restart podman-litellm "
            "(it reads the secrets file at start)",
            evidence,
        )
    ctx.require_http(good, f"GET {path} (master key)")
    return passed(
        f"master key accepted; no key -> HTTP {anonymous.status}, wrong key -> HTTP {wrong.status}",
        evidence,
    )


# --- test 6: model management -----------------------------------------------------------


@check("models", "Model management", "Test 6")
def check_models(ctx: Context) -> CheckResult:
    names = ctx.model_names()
    evidence = "\n".join(
        f"{entry.get('model_name')}: "
        f"{(entry.get('litellm_params') or {}).get('model', '?')}"
        f"{' (stored in DB)' if (entry.get('model_info') or {}).get('db_model') else ''}"
        for entry in ctx.models()
    )
    if not names:
        return passed(
            "model list answers; no models configured yet (add one in the UI: Models)",
            evidence,
        )
    shown = ", ".join(names[:8]) + (f" (+{len(names) - 8} more)" if len(names) > 8 else "")
    return passed(f"{plural(len(names), 'model')}: {shown}", evidence)


# --- test 7: complete request flow ------------------------------------------------------


def _chat(ctx: Context, model: str, key: str) -> tuple[CheckResult | None, str]:
    payload = {
        "model": model,
        # A unique prompt: never answered from the response cache.
        "messages": [
            {"role": "user", "content": f"Reply with the single word OK. ({uuid.uuid4().hex})"}
        ],
        "max_tokens": 16,
        "temperature": 0,
    }
    response = ctx.http(
        "POST", "/chat/completions", key=key, payload=payload, timeout=ctx.target.model_timeout
    )
    if not response.ok:
        what = response.error if response.status is None else response.message()
        return (
            failed(
                f"chat completion with {model} failed: {what}",
                "check the model's provider key/api_base (UI: Models, 'Test connect'); "
                "sudo journalctl -u podman-litellm -n 100",
                response.evidence(),
            ),
            response.evidence(),
        )
    data = response.json()
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return (
            failed(
                f"chat completion with {model}: no choices in the answer", "", response.evidence()
            ),
            response.evidence(),
        )
    text = " ".join(str(content or "").split())[:40]
    return None, f"{response.evidence()}\nanswer: {text!r} in {response.elapsed:.2f}s"


@check("request-flow", "Complete request flow", "Test 7")
def check_request_flow(ctx: Context) -> CheckResult:
    """Temporary virtual key (one model, tiny budget) -> one real chat request -> delete key."""
    master = ctx.master_key()
    names = ctx.model_names()
    model = ctx.target.model or (names[0] if names else None)
    if model is None:
        return skipped("no model configured; add one (UI: Models) to test a real request")
    if model not in names:
        return failed(
            f"model {model!r} is not configured (known: {', '.join(names) or 'none'})",
            "pass a configured model name",
        )
    if not ctx.target.database:
        chat_problem, chat_evidence = _chat(ctx, model, master)
        if chat_problem is not None:
            return chat_problem
        return passed(
            f"chat completion from {model} with the master key (virtual keys need the "
            "database, which this stack lacks)",
            chat_evidence,
        )
    alias = "tappaas-verify-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    created = ctx.http(
        "POST",
        "/key/generate",
        key=master,
        payload={
            "models": [model],
            "max_budget": 0.01,
            "duration": "10m",
            "key_alias": alias,
            "metadata": {"created_by": "tappaas-litellm verify"},
        },
    )
    data = ctx.require_http(created, "POST /key/generate")
    virtual_key = data.get("key") if isinstance(data, dict) else None
    if not isinstance(virtual_key, str) or not virtual_key:
        raise CheckFailedError("POST /key/generate returned no key", "", created.evidence())
    ctx.remember_secret(virtual_key)
    evidence = f"temporary key {alias}: models=[{model}], max_budget 0.01, duration 10m"
    try:
        info = ctx.http("GET", "/key/info", key=virtual_key)
        evidence += "\n" + info.evidence()
        problem: CheckResult | None = None
        if not info.ok:
            problem = failed(
                f"GET /key/info with the temporary key failed: {info.message()}",
                "sudo journalctl -u podman-litellm -n 100",
            )
        else:
            problem, chat_evidence = _chat(ctx, model, virtual_key)
            evidence += "\n" + chat_evidence
    finally:
        deleted = ctx.http("POST", "/key/delete", key=master, payload={"keys": [virtual_key]})
    evidence += "\n" + deleted.evidence()
    if problem is not None:
        return replace(problem, evidence=evidence)
    if not deleted.ok:
        return failed(
            f"request worked, but the temporary key {alias} was not deleted: {deleted.message()}",
            f"delete it in the UI (Virtual Keys, alias {alias}); it expires after 10 minutes",
            evidence,
        )
    return passed(
        f"chat completion from {model} with a temporary virtual key (key info read, key "
        "deleted again)",
        evidence,
    )
