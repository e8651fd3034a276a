"""The one way this tool makes HTTP requests: never through a proxy, never redirected.

Every request that carries a key (the master key to LiteLLM's key API, a consumer's key to
/v1/models) and the readiness polls go to a VM on the local network. An `http_proxy`,
`HTTPS_PROXY` or `ALL_PROXY` in the environment must never receive them, and a redirect must
never carry the `Authorization` header to another address: a 3xx answer is an error here.
"""

from __future__ import annotations

import urllib.request
from email.message import Message
from typing import IO, Any

__all__ = ["open_url"]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Turn every redirect into the HTTPError of the 3xx answer itself."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


# No ProxyHandler reads the environment: an empty mapping means "no proxy for any scheme".
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def open_url(request: urllib.request.Request | str, timeout: float) -> Any:
    """urllib's `urlopen`, without proxies or redirects (same errors: HTTPError, URLError)."""
    return _OPENER.open(request, timeout=timeout)
