"""Seeded procedural image tasks: shapes, oriented gratings and rendered letters.

Each image is drawn at 4x resolution and downsampled (anti-aliasing for free). Nuisances are mild
on purpose: a bright object on a dark background, random position, scale, colour and a small
rotation, plus Gaussian pixel noise. Harsher settings (arbitrary colours, small objects, stronger
noise) left tiny experts near chance, which removes the merging trade-off the project studies.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SUPERSAMPLE = 4
NOISE_STD = 8.0

SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond", "ring", "hexagon")
LETTERS = tuple("ABCDEFGHIJ")
GRATING_ANGLES = tuple(i * 180 / 12 for i in range(12))


def _colours(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """A dark background and a bright, saturated foreground."""
    background = tuple(int(v) for v in rng.integers(0, 70, size=3))
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.4, 1.0), rng.uniform(0.8, 1.0))
    return background, (int(r * 255), int(g * 255), int(b * 255))


def _finish(canvas: Image.Image, size: int, rng: np.random.Generator) -> np.ndarray:
    image = np.asarray(canvas.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)
    image = image + rng.normal(0.0, NOISE_STD, size=image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _polygon(cx: float, cy: float, radii: list[float], rotation: float) -> list[tuple]:
    step = 2 * math.pi / len(radii)
    return [
        (cx + r * math.cos(rotation + i * step), cy + r * math.sin(rotation + i * step))
        for i, r in enumerate(radii)
    ]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx, cy, r, rot, fg, bg) -> None:
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg)
    elif shape == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fg)
        inner = 0.55 * r
        draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=bg)
    elif shape == "square":
        draw.polygon(_polygon(cx, cy, [r] * 4, rot + math.pi / 4), fill=fg)
    elif shape == "diamond":
        draw.polygon(_polygon(cx, cy, [r, 0.6 * r] * 2, rot), fill=fg)
    elif shape == "triangle":
        draw.polygon(_polygon(cx, cy, [r] * 3, rot - math.pi / 2), fill=fg)
    elif shape == "hexagon":
        draw.polygon(_polygon(cx, cy, [r] * 6, rot), fill=fg)
    elif shape == "star":
        draw.polygon(_polygon(cx, cy, [r, 0.45 * r] * 5, rot - math.pi / 2), fill=fg)
    elif shape == "cross":
        arm = 0.35 * r
        corners = [(r, arm), (arm, arm), (arm, r), (-arm, r), (-arm, arm), (-r, arm)]
        corners += [(-x, -y) for x, y in corners]
        c, s = math.cos(rot), math.sin(rot)
        draw.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners], fill=fg)
    else:
        raise ValueError(f"unknown shape {shape}")


def shapes(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(SHAPES))
    big = size * SUPERSAMPLE
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        bg, fg = _colours(rng)
        canvas = Image.new("RGB", (big, big), bg)
        r = rng.uniform(0.24, 0.4) * big
        cx, cy = rng.uniform(r, big - r, size=2)
        rot = math.radians(rng.uniform(-15, 15))
        _draw_shape(ImageDraw.Draw(canvas), SHAPES[label], cx, cy, r, rot, fg, bg)
        images[i] = _finish(canvas, size, rng)
    return images, labels.astype(np.int64), [f"{s} shape" for s in SHAPES]


def gratings(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Gabor patches: a grating under a Gaussian window of random position, size and contrast.

    Twelve orientations 15 degrees apart (jitter +-4): full-frame gratings at 22.5 degrees were
    saturated (zero-shot 99.5 %, every method 98-100 %) and could not separate methods.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(GRATING_ANGLES))
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size
    xx, yy = np.meshgrid(coords, coords)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        theta = math.radians(GRATING_ANGLES[label] + rng.uniform(-4, 4))
        cycles = rng.uniform(2.5, 6.0)
        phase = rng.uniform(0, 2 * math.pi)
        wave = np.sin(2 * math.pi * cycles * (xx * math.cos(theta) + yy * math.sin(theta)) + phase)
        cx, cy = rng.uniform(0.3, 0.7, size=2)
        sigma = rng.uniform(0.15, 0.28)
        window = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
        contrast = rng.uniform(0.5, 1.0)
        level = 0.5 + 0.5 * contrast * window * wave
        bg, fg = _colours(rng)
        image = np.asarray(bg, np.float32) + level[..., None] * (
            np.subtract(fg, bg, dtype=np.float32)
        )
        image = image + rng.normal(0.0, NOISE_STD, size=image.shape)
        images[i] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    names = [f"stripes at {angle:g} degrees" for angle in GRATING_ANGLES]
    return images, labels.astype(np.int64), names


def letters(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(LETTERS))
    big = size * SUPERSAMPLE
    sizes = range(int(0.65 * big), int(big) + 1, 4)
    fonts = {px: ImageFont.load_default(size=px) for px in sizes}
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    for i, label in enumerate(labels):
        bg, fg = _colours(rng)
        font = fonts[int(rng.choice(list(fonts)))]
        mask = Image.new("L", (big, big), 0)
        offset = rng.uniform(-0.12, 0.12, size=2) * big
        ImageDraw.Draw(mask).text(
            (big / 2 + offset[0], big / 2 + offset[1]),
            LETTERS[label],
            fill=255,
            font=font,
            anchor="mm",
        )
        mask = mask.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
        canvas = Image.composite(
            Image.new("RGB", (big, big), fg), Image.new("RGB", (big, big), bg), mask
        )
        images[i] = _finish(canvas, size, rng)
    return images, labels.astype(np.int64), [f"letter {c}" for c in LETTERS]
