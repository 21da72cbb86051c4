"""The offline CLIP's pretraining world: a broad pool of captioned procedural concepts.

A real CLIP sees far more than the tasks it is later fine-tuned on, and sees their concepts in
other guises (typed digits, not handwritten ones): its features transfer while its zero-shot
heads on the tasks stay mediocre. This pool plays that part. Every image is one concept drawn
with random colour, size, position and rotation, captioned compositionally:

- ``glyphs``: digits and upper/lower-case letters in matplotlib's bundled font families; a
  share of them (``low_res``) drawn at 8x8 pixels and blown up again, captioned ``blurry``
  (scanned glyphs, such as scikit-learn's 8x8 digits, are a guise a real CLIP has seen);
- ``outlines``: sixteen shapes drawn as outlines or filled with stripes or dots (never solid,
  the ``shapes`` task's style);
- ``stripes``: full-frame gratings at a coarser set of orientations than the ``gratings`` task;
- ``textures``: checkerboards, dots, zigzags, noise and plain colour.

The pool never draws the evaluation tasks' own images; the tasks' class names reach it only
through the words their captions share (``digit three``, ``letter A``, ``star shape``).
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from neulig.data.procedural import NOISE_STD, SHAPES, SUPERSAMPLE, _draw_shape, _polygon
from neulig.data.sources import NUMBER_WORDS

# Hue (degrees) of each colour word; the last two are achromatic.
COLOURS = {
    "red": 0,
    "orange": 30,
    "yellow": 58,
    "green": 120,
    "cyan": 180,
    "blue": 225,
    "purple": 275,
    "pink": 320,
    "white": None,
    "gray": None,
}
FONTS = {  # matplotlib's bundled families: the style word of a glyph's caption
    "sans": "DejaVuSans.ttf",
    "bold": "DejaVuSans-Bold.ttf",
    "slanted": "DejaVuSans-Oblique.ttf",
    "serif": "DejaVuSerif.ttf",
    "italic": "DejaVuSerif-Italic.ttf",
    "typewriter": "DejaVuSansMono.ttf",
    "roman": "cmr10.ttf",
    "classic": "STIXGeneral.ttf",
}
EXTRA_SHAPES = ("pentagon", "octagon", "ellipse", "moon", "arrow", "trapezoid", "heart", "bar")
SHAPE_STYLES = ("outline", "striped", "dotted")
TEXTURES = ("checkerboard", "dots", "zigzag", "noise", "plain colour")
FAMILIES = ("glyphs", "outlines", "stripes", "textures")
TEMPLATES = ("a photo of a {}.", "a picture of a {}.", "an image of a {}.")

DEFAULT_SPEC = {
    "n": 30000,
    "families": {"glyphs": 0.4, "outlines": 0.3, "stripes": 0.15, "textures": 0.15},
    "stripe_step": 30,  # degrees between the pool's stripe orientations (the task's: 15)
    "glyph_chars": "digits+upper+lower",
    "low_res": 0.0,  # share of glyphs drawn at LOW_RES pixels, then upsampled
}
LOW_RES = 8


@cache
def _font(style: str, px: int) -> ImageFont.FreeTypeFont:
    import matplotlib

    return ImageFont.truetype(
        str(Path(matplotlib.get_data_path()) / "fonts/ttf" / FONTS[style]), px
    )


def _colour(rng: np.random.Generator) -> tuple[str, tuple[int, int, int]]:
    import colorsys

    name = str(rng.choice(list(COLOURS)))
    hue = COLOURS[name]
    if hue is None:
        v = 1.0 if name == "white" else 0.55
        return name, (int(255 * v),) * 3
    h = ((hue + rng.uniform(-10, 10)) % 360) / 360
    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.0))
    return name, (int(r * 255), int(g * 255), int(b * 255))


def _background(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(v) for v in rng.integers(0, 70, size=3))


def _compose(mask: Image.Image, fg, bg, size: int, rng: np.random.Generator) -> np.ndarray:
    big = mask.size[0]
    canvas = Image.composite(
        Image.new("RGB", (big, big), fg), Image.new("RGB", (big, big), bg), mask
    )
    image = np.asarray(canvas.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
    image = image + rng.normal(0.0, NOISE_STD, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _pattern(kind: str, big: int, rng: np.random.Generator) -> np.ndarray:
    """A binary [big, big] pattern: stripes at a random angle, dots, checks, zigzag or noise."""
    yy, xx = np.mgrid[0:big, 0:big].astype(np.float32) / big
    period = rng.uniform(0.08, 0.2)
    if kind in ("striped", "zigzag"):
        angle = rng.uniform(0, math.pi)
        u = xx * math.cos(angle) + yy * math.sin(angle)
        if kind == "zigzag":
            u = u + 0.5 * period * np.abs(
                ((xx * math.sin(angle) - yy * math.cos(angle)) / period) % 2 - 1
            )
        return (u / period) % 1 < 0.5
    if kind in ("dotted", "dots"):
        return ((xx / period) % 1 - 0.5) ** 2 + ((yy / period) % 1 - 0.5) ** 2 < 0.09
    if kind == "checkerboard":
        return ((xx / period).astype(int) + (yy / period).astype(int)) % 2 == 0
    if kind == "noise":
        cells = rng.random((8, 8)) < 0.5
        return np.kron(cells, np.ones((big // 8 + 1, big // 8 + 1), bool))[:big, :big]
    return np.ones((big, big), bool)  # plain colour


def _extra_shape(draw: ImageDraw.ImageDraw, shape: str, cx, cy, r, rot) -> None:
    if shape in ("pentagon", "octagon"):
        draw.polygon(_polygon(cx, cy, [r] * (5 if shape == "pentagon" else 8), rot), fill=255)
    elif shape == "ellipse":
        draw.ellipse((cx - r, cy - 0.55 * r, cx + r, cy + 0.55 * r), fill=255)
    elif shape == "moon":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        draw.ellipse((cx - 0.5 * r, cy - r, cx + 1.3 * r, cy + 0.8 * r), fill=0)
    elif shape == "arrow":
        pts = [
            (-r, -0.25 * r),
            (0.2 * r, -0.25 * r),
            (0.2 * r, -0.6 * r),
            (r, 0),
            (0.2 * r, 0.6 * r),
            (0.2 * r, 0.25 * r),
            (-r, 0.25 * r),
        ]
        c, s = math.cos(rot), math.sin(rot)
        draw.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts], fill=255)
    elif shape == "trapezoid":
        draw.polygon(
            [
                (cx - r, cy + 0.6 * r),
                (cx + r, cy + 0.6 * r),
                (cx + 0.5 * r, cy - 0.6 * r),
                (cx - 0.5 * r, cy - 0.6 * r),
            ],
            fill=255,
        )
    elif shape == "heart":
        h = 0.5 * r
        draw.ellipse((cx - r, cy - r, cx, cy), fill=255)
        draw.ellipse((cx, cy - r, cx + r, cy), fill=255)
        draw.polygon(
            [(cx - r + 0.05 * r, cy - h), (cx + r - 0.05 * r, cy - h), (cx, cy + r)], fill=255
        )
    else:  # bar
        draw.polygon(_polygon(cx, cy, [r, 0.2 * r] * 2, rot), fill=255)


def outline(size: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    big = size * SUPERSAMPLE
    shape = str(rng.choice(SHAPES + EXTRA_SHAPES))
    style = str(rng.choice(SHAPE_STYLES))
    name, fg = _colour(rng)
    r = rng.uniform(0.24, 0.42) * big
    cx, cy = rng.uniform(r, big - r, size=2)
    rot = math.radians(rng.uniform(-20, 20))
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    if shape in SHAPES:
        _draw_shape(draw, shape, cx, cy, r, rot, 255, 0)
    else:
        _extra_shape(draw, shape, cx, cy, r, rot)
    if style == "outline":
        width = int(rng.integers(SUPERSAMPLE, 3 * SUPERSAMPLE)) | 1
        mask = Image.fromarray(
            np.asarray(mask) & ~np.asarray(mask.filter(ImageFilter.MinFilter(width)))
        )
    else:
        mask = Image.fromarray(np.asarray(mask) * _pattern(style, big, rng).astype(np.uint8))
    label = shape.replace("bar", "bar shape") if shape == "bar" else f"{shape} shape"
    return _compose(mask, fg, _background(rng), size, rng), f"{name} {style} {label}"


def _blur(image: np.ndarray) -> np.ndarray:
    small = Image.fromarray(image).resize((LOW_RES, LOW_RES), Image.Resampling.BOX)
    return np.asarray(small.resize(image.shape[:2][::-1], Image.Resampling.BILINEAR))


def glyph(
    size: int, chars: str, rng: np.random.Generator, low_res: float = 0.0
) -> tuple[np.ndarray, str]:
    big = size * SUPERSAMPLE
    char = str(rng.choice(list(chars)))
    style = str(rng.choice(list(FONTS)))
    name, fg = _colour(rng)
    mask = Image.new("L", (big, big), 0)
    offset = rng.uniform(-0.15, 0.15, size=2) * big
    font = _font(style, int(rng.integers(int(0.55 * big), int(0.95 * big))))
    ImageDraw.Draw(mask).text(
        (big / 2 + offset[0], big / 2 + offset[1]), char, fill=255, font=font, anchor="mm"
    )
    mask = mask.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR)
    if char.isdigit():
        label = f"digit {NUMBER_WORDS[int(char)]}"
    else:
        label = f"letter {char}" if char.isupper() else f"small letter {char}"
    image = _compose(mask, fg, _background(rng), size, rng)
    # `low_res and` first: a world without blurry glyphs draws exactly the numbers it always did
    if low_res and rng.random() < low_res:
        return _blur(image), f"{name} blurry {style} {label}"
    return image, f"{name} {style} {label}"


def stripes(size: int, step: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    angle = int(rng.choice(np.arange(0, 180, step)))
    theta = math.radians(angle + rng.uniform(-4, 4))
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    xx, yy = np.meshgrid(coords, coords)
    wave = np.sin(
        2 * math.pi * rng.uniform(2.0, 6.0) * (xx * math.cos(theta) + yy * math.sin(theta))
        + rng.uniform(0, 2 * math.pi)
    )
    level = 0.5 + 0.5 * rng.uniform(0.6, 1.0) * (np.sign(wave) if rng.random() < 0.5 else wave)
    name, fg = _colour(rng)
    bg = np.asarray(_background(rng), np.float32)
    image = bg + level[..., None] * (np.asarray(fg, np.float32) - bg)
    image = image + rng.normal(0.0, NOISE_STD, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), f"{name} stripes at {angle} degrees"


def texture(size: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    big = size * SUPERSAMPLE
    kind = str(rng.choice(TEXTURES))
    name, fg = _colour(rng)
    mask = Image.fromarray(_pattern(kind, big, rng).astype(np.uint8) * 255)
    return _compose(mask, fg, _background(rng), size, rng), f"{name} {kind}"


def glyph_chars(spec: str) -> str:
    parts = {
        "digits": "0123456789",
        "upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "lower": "abcdefghijklmnopqrstuvwxyz",
    }
    return "".join(parts[p] for p in spec.split("+"))


def world_pool(spec: dict, size: int, seed: int) -> tuple[np.ndarray, list[list[str]]]:
    """``n`` images [n, size, size, 3] and, per image, its caption in every template."""
    spec = {**DEFAULT_SPEC, **spec}  # task_slices is the caller's (neulig.pretrain)
    rng = np.random.default_rng([seed, 7])
    names = list(spec["families"])
    weights = np.asarray([spec["families"][f] for f in names], dtype=float)
    draws = rng.choice(len(names), size=spec["n"], p=weights / weights.sum())
    chars = glyph_chars(spec["glyph_chars"])
    makers = {
        "glyphs": lambda: glyph(size, chars, rng, spec["low_res"]),
        "outlines": lambda: outline(size, rng),
        "stripes": lambda: stripes(size, spec["stripe_step"], rng),
        "textures": lambda: texture(size, rng),
    }
    images = np.empty((spec["n"], size, size, 3), dtype=np.uint8)
    captions = []
    for i, family in enumerate(draws):
        images[i], phrase = makers[names[family]]()
        captions.append([t.format(phrase) for t in TEMPLATES])
    return images, captions
