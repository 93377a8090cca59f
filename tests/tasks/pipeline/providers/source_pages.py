"""Three source pages on one subject, with the facts a claim check can hold a draft to
(years, numbers, names), for the offline writer's drafts from sources, and a server
that serves them on loopback."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PAGES = {
    "/barrels": (
        "Rain barrels for city gardens",
        [
            "A rain barrel collects the water that runs off a roof through its downspout.",
            "One barrel under a downspout can hold enough water for a small vegetable bed "
            "through a dry week.",
            "A typical city rain barrel holds between 150 and 200 litres of water.",
            "A roof of 10 square metres sheds about 200 litres in a storm of 20 millimetres "
            "of rain.",
            "Most gardeners fill their first barrel after a single heavy summer shower.",
            "The barrel should stand on a firm, level base such as paving slabs or "
            "concrete blocks.",
            "Raising the barrel on blocks gives the tap enough height to fill a watering can.",
            "A fine mesh screen over the inlet keeps leaves out of the water.",
            "The same screen stops mosquitoes from laying their eggs in the stored water.",
            "An overflow pipe sends surplus water back to the drain or to a second barrel.",
            "Linking two barrels with a short hose doubles the storage without a second downspout.",
            "Rainwater is soft and free of chlorine, which most garden plants prefer.",
            "Rainwater from a roof should not be used for drinking without treatment.",
            "Before the first frost the barrel should be emptied to keep the tap from cracking.",
        ],
    ),
    "/history": (
        "How the city water board backs rain barrels",
        [
            "The Greenfield Water Board started its rain barrel programme in 1998.",
            "In its first year the programme handed out 1,200 barrels to households in the city.",
            "By 2020 more than 40,000 rain barrels had been installed across Greenfield.",
            "The board pays a rebate of 30 euros for each barrel a household installs.",
            "Households with a rain barrel used 12 percent less tap water on their "
            "gardens in summer.",
            "The board reports that barrels also reduce the load on storm drains during "
            "heavy rain.",
            "Every barrel sold through the programme comes with a child-safe lid.",
            "Workshops at the Greenfield library teach residents how to fit a diverter "
            "to a downspout.",
            "Community gardens in the city now collect rain from the roofs of their sheds.",
            "The programme was expanded to schools in 2015.",
        ],
    ),
    "/care": (
        "Looking after a rain barrel",
        [
            "A rain barrel needs little care, but a few habits keep the water clean.",
            "Cleaning the barrel once a year removes the sludge that settles at the bottom.",
            "A dark barrel keeps sunlight out and slows the growth of algae in the water.",
            "Gutters should be cleared of leaves in autumn so that water flows freely into "
            "the barrel.",
            "Water from a barrel is best used within a few weeks of collection.",
            "A soaker hose connected to the tap waters a city garden bed slowly and evenly.",
            "Watering in the early morning loses less rain water to evaporation.",
            "Gardeners on balconies can use a slim barrel that fits against a wall.",
            "A full barrel is heavy, so a balcony must be able to carry its weight.",
            "Many gardeners add a second barrel once they see how quickly the first one fills.",
        ],
    ),
}


def page_html(path: str) -> bytes:
    title, sentences = PAGES[path]
    paragraphs = "".join(
        f"<p>{' '.join(sentences[i : i + 3])}</p>" for i in range(0, len(sentences), 3)
    )
    return (
        f"<html><head><title>{title}</title></head><body><nav>Home | Shop | About</nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>Copyright the publisher</footer></body></html>"
    ).encode()


class PageServer:
    """The pages above (and any added to `pages`) on loopback, by path; 404 otherwise."""

    def __init__(self) -> None:
        self.pages = {path: page_html(path) for path in PAGES}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name is fixed by BaseHTTPRequestHandler
                body = server.pages.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> "PageServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
