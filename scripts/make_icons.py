"""Draw the PWA's icons (a white grid and house on the app's red) with Pillow.

Run ``python scripts/make_icons.py``; the PNGs in static/icons are committed. The maskable icons
keep the drawing inside the central 80 % safe zone, since launchers crop them to any shape.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

RED = (192, 57, 43, 255)
WHITE = (255, 255, 255, 255)
OUT = Path(__file__).resolve().parent.parent / "static" / "icons"


def draw(size: int, maskable: bool) -> Image.Image:
    img = Image.new("RGBA", (size, size), RED if maskable else (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    if not maskable:
        d.rounded_rectangle((0, 0, size - 1, size - 1), radius=size // 6, fill=RED)
    inset = size * (0.26 if maskable else 0.18)
    box = (inset, inset, size - inset, size - inset)
    w = box[2] - box[0]
    line = max(2, round(size / 40))
    # A 3×3 grid (网格) …
    d.rectangle(box, outline=WHITE, width=line)
    for i in (1, 2):
        x = box[0] + w * i / 3
        y = box[1] + w * i / 3
        d.line((x, box[1], x, box[3]), fill=WHITE, width=line)
        d.line((box[0], y, box[2], y), fill=WHITE, width=line)
    # … with one cell filled by a small house (a household being visited).
    cx, cy, c = box[0] + w / 2, box[1] + w / 2, w / 6
    d.polygon([(cx - c, cy), (cx, cy - c), (cx + c, cy)], fill=WHITE)
    d.rectangle((cx - c * 0.7, cy, cx + c * 0.7, cy + c * 0.9), fill=WHITE)
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size, False).save(OUT / f"icon-{size}.png", optimize=True)
        draw(size, True).save(OUT / f"maskable-{size}.png", optimize=True)


if __name__ == "__main__":
    main()
