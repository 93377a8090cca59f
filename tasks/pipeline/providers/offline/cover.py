"""The offline cover painter: a deterministic 1200x630 PNG drawn locally with Pillow, no model.

The gradient, shapes and colours come from `random.Random` seeded with the brief's stable seed, so
the same brief always yields the same image; the topic, in title case, is the cover's title.
"""

import colorsys
import io
import random
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ..base import Brief, ImageResult
from .voice import Voice

IMAGE_MODEL = "offline-image-1"
COVER_SIZE = (1200, 630)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, ImportError):  # Pillow built without FreeType only has the bitmap font
        return ImageFont.load_default()


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and draw.textlength(candidate, font=font) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _rgb(hue: float, saturation: float, value: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def render_cover(brief: Brief) -> bytes:
    """A 1200x630 PNG cover: seeded gradient and shapes with the topic as its title."""
    rng = random.Random(f"{brief.seed()}:image")
    width, height = COVER_SIZE
    hue = rng.random()
    start = Image.new("RGB", COVER_SIZE, _rgb(hue, 0.55, 0.62))
    end = Image.new("RGB", COVER_SIZE, _rgb(hue + rng.uniform(0.08, 0.2), 0.7, 0.22))
    vertical = Image.linear_gradient("L").resize(COVER_SIZE)
    horizontal = Image.linear_gradient("L").rotate(90).resize(COVER_SIZE)
    mask = Image.blend(vertical, horizontal, rng.uniform(0.3, 0.7))
    image = Image.composite(end, start, mask).convert("RGBA")

    overlay = Image.new("RGBA", COVER_SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for _ in range(rng.randint(5, 9)):
        radius = rng.randint(40, 260)
        cx, cy = rng.randint(0, width), rng.randint(0, height)
        colour = (*_rgb(hue + rng.uniform(-0.15, 0.35), 0.5, 0.95), rng.randint(30, 80))
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    for _ in range(rng.randint(6, 12)):
        x = rng.randint(-300, width)
        colour = (255, 255, 255, rng.randint(20, 50))
        draw.line((x, height, x + rng.randint(200, 500), 0), fill=colour, width=rng.randint(2, 6))
    draw.rounded_rectangle((60, 150, width - 60, height - 60), radius=24, fill=(0, 0, 0, 120))
    image = Image.alpha_composite(image, overlay)

    draw = ImageDraw.Draw(image)
    voice = Voice.of(brief)
    label = " · ".join(
        part.upper() for part in (voice.task_type.replace("_", " "), brief.category) if part
    )
    draw.text((100, 185), label, font=_font(26), fill=(255, 255, 255, 210))
    accent = _rgb(hue + 0.5, 0.6, 1.0)
    draw.rectangle((100, 228, 220, 234), fill=accent)
    for size in (72, 64, 56, 48, 40, 34):
        font = _font(size)
        lines = _wrap(draw, voice.title_topic, font, width - 200)
        if len(lines) * size * 1.2 <= height - 320:
            break
    y = 260
    for line in lines[:5]:
        draw.text((100, y), line, font=font, fill=(255, 255, 255, 255))
        y += round(size * 1.2)

    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


class OfflineImageProvider:
    """Draws a deterministic cover locally; no model, no network."""

    name = "offline"

    def generate_image(
        self, *, brief: Brief, prompt: str = "", model: str = IMAGE_MODEL, timeout: float = 0
    ) -> ImageResult:
        return ImageResult(
            content=render_cover(brief),
            content_type="image/png",
            model=IMAGE_MODEL,
            cost=Decimal("0"),
        )
