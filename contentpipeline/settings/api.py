"""The REST API (Django REST framework) and its OpenAPI schema (drf-spectacular)."""

from .security import NUM_PROXIES, THROTTLE_RATES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "contentpipeline.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_PARSER_CLASSES": [
        "contentpipeline.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "contentpipeline.throttling.AnonRateThrottle",
        "contentpipeline.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": THROTTLE_RATES,
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "contentpipeline.errors.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Content pipeline API",
    "DESCRIPTION": "Request content, follow the pipeline, approve and publish.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: the docs work offline, and no third-party
    # script runs on the admin's origin.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation's error answers (400/401/403/404/409/413/415/429) with their JSON
    # bodies, from what each view is: see contentpipeline/schema.py.
    # Fields of the same name with different choices get names of their own (without
    # them drf-spectacular names them by a hash, and says so in `check --deploy`).
    "ENUM_NAME_OVERRIDES": {
        "PlanStatusEnum": ["proposed", "approved", "sent_back"],
        "TaskStatusEnum": "tasks.models.Status",
        "ApprovalDecisionEnum": "approvals.models.Decision",
        "PlanDecisionEnum": "approvals.models.PlanDecision.Verdict",
        "StyleRuleKindEnum": ["code", "model"],
        "OverlapKindEnum": ["post", "task"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "contentpipeline.schema.document_error_responses",
    ],
}
