"""Decisions as a CSV file, streamed: rows are read through a server-side cursor a
chunk at a time and sent as they are written, never held all at once."""

import csv
from collections.abc import AsyncIterator, Iterator
from itertools import islice

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from .selectors import approval_csv_rows

# Lines of CSV per chunk sent: few enough to keep memory flat, enough to spare the
# server a write (and, under ASGI, a thread hop) per row.
CSV_LINES_PER_CHUNK = 200


class _Echo:
    """What csv.writer writes to: hands each line back instead of keeping it (Django's
    "Streaming large CSV files")."""

    def write(self, value: str) -> str:
        return value


def _csv_chunks(queryset) -> Iterator[str]:
    writer = csv.writer(_Echo())
    rows = approval_csv_rows(queryset)
    while lines := [writer.writerow(row) for row in islice(rows, CSV_LINES_PER_CHUNK)]:
        yield "".join(lines)


async def _in_thread(chunks: Iterator[str]) -> AsyncIterator[str]:
    """The chunks for an ASGI server, which would otherwise read a synchronous iterator
    to its end before sending a byte. Each step runs thread-sensitively: in the request's
    one thread, whose database connection holds the export's server-side cursor."""
    step = sync_to_async(next, thread_sensitive=True)
    try:
        while (chunk := await step(chunks, None)) is not None:
            yield chunk
    finally:  # a client gone mid-export: close the cursor now, in its own thread
        await sync_to_async(chunks.close, thread_sensitive=True)()


def decisions_csv_response(request, queryset) -> StreamingHttpResponse:
    """Every decision of `queryset` as a CSV attachment, streamed (the API's export
    and the admin's action)."""
    chunks = _csv_chunks(queryset)
    # Under ASGI the request (or the one a DRF request wraps) carries its scope; there a
    # streaming body must be an async iterator, or Django warns and reads it in a thread a chunk.
    if getattr(request, "scope", None) is not None:
        chunks = _in_thread(chunks)
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="approvals.csv"'
    response["Cache-Control"] = "no-store"
    return response
