"""An imagefolder task sees each picture as a viewer shows it: whatever its bit depth or
EXIF orientation, a file decodes to the 8-bit RGB image a person would see."""

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from neulig.data.sources import SOURCES
from neulig.io import ArtifactError

# A 16-bit ramp over the whole range: its 8-bit rendering is the high byte, 0..255.
RAMP16 = (np.arange(256, dtype=np.uint32).reshape(16, 16) * 257).astype(np.uint16)
RAMP8 = (RAMP16 >> 8).astype(np.uint8)


def _decoded(tmp_path, write, size=16) -> np.ndarray:
    """``write(path_stem)`` lays one picture into class ``a``; returns its decoded pixels."""
    root = tmp_path / "pictures"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    write(root / "a" / "x")
    Image.new("RGB", (4, 4)).save(root / "b" / "filler.png")
    spec = {"source": "imagefolder", "root": str(root), "image_size": size, "splits": {}}
    images, _ = SOURCES["imagefolder"](spec, 0).splits["all"]
    return images[0].astype(int)


def _grey(decoded: np.ndarray) -> np.ndarray:
    assert (decoded == decoded[..., :1]).all(), "a grey picture decodes to three equal channels"
    return decoded[..., 0]


def test_16bit_grey_png_is_scaled_not_clipped(tmp_path):
    def write(stem):
        Image.fromarray(RAMP16).save(f"{stem}.png")
        assert Image.open(f"{stem}.png").mode == "I;16"

    np.testing.assert_array_equal(_grey(_decoded(tmp_path, write)), RAMP8)


def test_16bit_big_endian_tiff_is_scaled(tmp_path):
    def write(stem):
        image = Image.frombytes("I;16B", (16, 16), RAMP16.astype(">u2").tobytes())
        image.save(f"{stem}.tif")
        assert Image.open(f"{stem}.tif").mode == "I;16B"

    np.testing.assert_array_equal(_grey(_decoded(tmp_path, write)), RAMP8)


def test_16bit_pgm_is_scaled(tmp_path):
    # Pillow opens a PGM with maxval 65535 in mode "I" (32-bit integers)
    def write(stem):
        with open(f"{stem}.pgm", "wb") as fh:
            fh.write(b"P5\n16 16\n65535\n" + RAMP16.astype(">u2").tobytes())
        assert Image.open(f"{stem}.pgm").mode == "I"

    np.testing.assert_array_equal(_grey(_decoded(tmp_path, write)), RAMP8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_16bit_rgb_png_keeps_its_colours(tmp_path):
    # Pillow cannot write 48-bit PNGs: colour type 2, depth 16, big-endian samples, by hand
    pixels = np.stack([RAMP16, RAMP16[::-1], np.full_like(RAMP16, 0x8000)], -1).astype(">u2")

    def write(stem):
        rows = b"".join(b"\0" + row.tobytes() for row in pixels)
        header = struct.pack(">IIBBBBB", 16, 16, 16, 2, 0, 0, 0)
        png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
        png += _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b"")
        with open(f"{stem}.png", "wb") as fh:
            fh.write(png)

    np.testing.assert_array_equal(_decoded(tmp_path, write), pixels >> 8)


@pytest.mark.parametrize(
    "pixels",
    [np.linspace(0, 1, 256, dtype=np.float32), np.arange(256, dtype=np.int32) * 4096],
    ids=["float32", "int32"],
)
def test_pixels_beyond_16_bits_are_rejected_naming_the_file(tmp_path, pixels):
    # neither has a fixed white level: guessing one would decode silently wrong
    def write(stem):
        Image.fromarray(pixels.reshape(16, 16)).save(f"{stem}.tif")

    with pytest.raises(ArtifactError) as info:
        _decoded(tmp_path, write)
    message = str(info.value)
    assert "\n" not in message and "x.tif" in message and "8- or 16-bit" in message


# Upright, as a viewer shows it: 8 rows x 16 columns, left half black, right half white.
UPRIGHT = np.zeros((8, 16, 3), dtype=np.uint8)
UPRIGHT[:, 8:] = 255
ORIENTATION = 0x0112
# Orientation 6: the stored pixels are the upright picture turned 90 degrees anticlockwise and
# the viewer turns them back clockwise; 8 is the opposite turn, 3 a half turn.
STORED = {6: np.rot90(UPRIGHT, 1), 8: np.rot90(UPRIGHT, -1), 3: np.rot90(UPRIGHT, 2)}


def _with_orientation(suffix: str, orientation: int):
    def write(stem):
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        Image.fromarray(np.ascontiguousarray(STORED[orientation])).save(
            f"{stem}{suffix}", exif=exif
        )

    return write


def _upright_at(size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(UPRIGHT).resize((size, size))).astype(int)


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_jpeg_exif_orientation_is_applied(tmp_path, orientation):
    decoded = _decoded(tmp_path, _with_orientation(".jpg", orientation))
    # JPEG blurs the black/white edge a little; a picture left as stored is off by ~128
    assert np.abs(decoded - _upright_at(16)).mean() < 12


def test_png_exif_orientation_is_applied(tmp_path):
    decoded = _decoded(tmp_path, _with_orientation(".png", 6))
    assert np.abs(decoded - _upright_at(16)).mean() < 2
