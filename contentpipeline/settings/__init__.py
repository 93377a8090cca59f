"""Settings, all from the environment (12-factor): one module per concern, each check
beside the setting it checks, composed here in order (DJANGO_SETTINGS_MODULE is
`contentpipeline.settings`). A wrong or unknown value stops the start with a message
that names the variable.

- base: the environment reader, DEBUG, the port and site URL, applications,
  middleware, URLs, templates, sessions, language, request size
- security: the secret key, hosts and origins, cookies, HSTS and the SSL redirect,
  throttles and the client's address, the login lockout and password rules
- providers: language-model and image providers, fallbacks, models, prices, the cost
  ceiling, rate limits, the quality loop, source fetches, webhooks
- database: PostgreSQL, its pool, the role migrations run as
- cache_channels: Redis as broker, cache and channel layer
- mail: the e-mail server (EMAIL_URL), its sender, timeout, retries; review reminders
- celery: queues, the workers' pool, broker timeouts, periodic jobs, leases
- api: the REST framework and the OpenAPI schema
- static: static files and media
- logs: log lines and metrics

Production defaults are the defaults: a deployment that sets only SECRET_KEY (50
characters or more), DATABASE_URL, REDIS_URL and ALLOWED_HOSTS runs with DEBUG off,
the SSL redirect, secure cookies and a year of HSTS, JSON logs, hashed and compressed
static files, the offline providers, a $2.00 ceiling per task, outbound calls refused
on private networks, and workers of 100 threads (each module's docstring says what
it gives production). `make run` and `make test` (devtools/stack.py) set DEBUG and a
local SECRET_KEY for development; nothing secret lives in the repository.
"""

# In the order above (the base first; each check runs as its module is read), not
# sorted by name.
# ruff: noqa: I001
from .base import *  # noqa: F403
from .security import *  # noqa: F403
from .providers import *  # noqa: F403
from .database import *  # noqa: F403
from .cache_channels import *  # noqa: F403
from .mail import *  # noqa: F403
from .celery import *  # noqa: F403
from .api import *  # noqa: F403
from .static import *  # noqa: F403
from .logs import *  # noqa: F403
