"""contentpipeline.daphne_requests works around daphne; this says when it is no longer
needed. (What it changes, through a real daphne: tests/test_api_schema.py.)"""

import inspect

from daphne import http_protocol
from twisted.web import http


def test_daphne_still_lets_twisted_parse_form_bodies_so_the_workaround_stays():
    # Fails once daphne opts out of Twisted's form parsing itself: then delete
    # contentpipeline/daphne_requests.py and its call in contentpipeline/asgi.py.
    assert "parsePOSTFormSubmission" not in inspect.getsource(http_protocol)
    # The option the workaround sets, and Twisted's default for it.
    option = inspect.signature(http.Request.__init__).parameters["parsePOSTFormSubmission"]
    assert option.default is True
