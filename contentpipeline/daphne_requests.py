"""Request bodies reach Django as the client sent them, whatever daphne's Twisted thinks.

daphne passes each request's body to the application untouched, but the Twisted request
under it first parses every multipart/form-data and urlencoded POST body into its own
`request.args`, which daphne never reads. A multipart body that Twisted's e-mail parser
cannot read (an empty form: the closing boundary alone) is then answered by Twisted
itself, before the application runs: a bare `400 Bad Request` with no Content-Type, no
body, no request id and no log line, on every endpoint (the API's JSON errors never get
a chance). Django's parser reads those bodies, so the request goes on to it instead.

Upstream: Twisted added the opt-out in 2025 (`Request(parsePOSTFormSubmission=False)`,
twisted/twisted#12412); daphne 4.2 does not use it (django/daphne#447, #325: requests
daphne refuses with a bare 400 that other ASGI servers pass on). Drop this module when
daphne opts out itself: tests/contentpipeline/test_daphne_requests.py fails then.
"""

from daphne import http_protocol

_upstream = http_protocol.WebRequest


class _BodyUntouchedRequest(_upstream):
    def __init__(self, *args, **kwargs) -> None:
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)


def leave_request_bodies_to_django() -> None:
    """Make daphne's HTTP requests skip Twisted's parsing of form bodies. Called where
    daphne loads the application (contentpipeline.asgi), before it serves a request;
    calling it again changes nothing."""
    http_protocol.WebRequest = _BodyUntouchedRequest
