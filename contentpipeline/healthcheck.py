"""The web container's health check (the image's HEALTHCHECK):

    python -m contentpipeline.healthcheck

asks the ASGI server on this host (port PORT, default 8000) for GET /api/health and
exits 0 when it answers and its database works, 1 otherwise. Standard library only,
no Django set-up: it runs every half minute.

A 503 that names only the workers, the broker or the cache still counts as healthy:
the site and the API go on serving (they are built to go on without Redis), and an
orchestrator that replaced or unrouted this web process would not bring those back.
/api/health itself reports them, for monitoring.

The request is the one the load balancer forwards: a Host from ALLOWED_HOSTS (Django
refuses any other) and `X-Forwarded-Proto: https` (else production's SSL redirect
answers 301, see SECURE_PROXY_SSL_HEADER).
"""

import http.client
import json
import os
import sys

PATH = "/api/health"


def host_header(allowed_hosts: str) -> str:
    """A Host Django accepts: the first of ALLOWED_HOSTS (a leading dot allows the domain
    itself), or localhost, which Django's default and `*` allow."""
    for host in allowed_hosts.split(","):
        host = host.strip()
        if host and host != "*":
            return host.lstrip(".")
    return "localhost"


def check(port: int, host: str, timeout: float = 5.0) -> tuple[bool, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(
            "GET",
            PATH,
            headers={"Host": host, "X-Forwarded-Proto": "https", "Accept": "application/json"},
        )
        response = connection.getresponse()
        body = response.read()
    except OSError as exc:
        return False, f"no answer on port {port}: {exc}"
    finally:
        connection.close()
    try:
        checks = json.loads(body)
    except ValueError:
        checks = None
    if not isinstance(checks, dict):
        return False, f"{response.status} {body[:200]!r}"
    summary = f"{response.status} {json.dumps(checks, sort_keys=True)}"
    if response.status == 200:
        return True, summary
    return response.status == 503 and checks.get("database") == "ok", summary


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    healthy, summary = check(port, host_header(os.environ.get("ALLOWED_HOSTS", "")))
    print(summary)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
