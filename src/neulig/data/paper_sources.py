"""Paper-profile sources: the real benchmarks behind the CLIP ViT-B/32 experts of FusionBench.

Each source reads the official train/test splits from ``spec["root"]`` (downloading them when
``spec["download"]``, default true) and returns square RGB uint8 images of
``spec["image_size"]`` (default 224) with the class names and prompt templates of the CLIP
zero-shot literature. Images are resized one at a time into a preallocated array, so no list of
decoded images is ever held. Missing or corrupt files raise a one-line
:class:`~neulig.io.ArtifactError` naming the dataset and the files it expects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps
from tqdm.auto import tqdm

from neulig.data.raw import RawDataset
from neulig.io import ArtifactError, ConfigError

# Each loader imports its torchvision dataset class itself: torchvision brings torch (~2 s),
# which the download jobs of the other sources never need.

Splits = dict[str, tuple[np.ndarray, np.ndarray]]

DIGITS = [str(d) for d in range(10)]
DIGIT_TEMPLATES = ['a photo of the number: "{}".']
OBJECT_TEMPLATES = [
    "a photo of a {}.",
    "a blurry photo of a {}.",
    "a black and white photo of a {}.",
    "a low contrast photo of a {}.",
    "a photo of a big {}.",
    "a photo of a small {}.",
]
STL10_CLASSES = "airplane bird car cat deer dog horse monkey ship truck".split()
GTSRB_CLASSES = [  # CLIP's prompt list (openai/CLIP data/prompts.md), index = ClassId
    "red and white circle 20 kph speed limit",
    "red and white circle 30 kph speed limit",
    "red and white circle 50 kph speed limit",
    "red and white circle 60 kph speed limit",
    "red and white circle 70 kph speed limit",
    "red and white circle 80 kph speed limit",
    "end / de-restriction of 80 kph speed limit",
    "red and white circle 100 kph speed limit",
    "red and white circle 120 kph speed limit",
    "red and white circle red car and black car no passing",
    "red and white circle red truck and black car no passing",
    "red and white triangle road intersection warning",
    "white and yellow diamond priority road",
    "red and white upside down triangle yield right-of-way",
    "stop",
    "empty red and white circle",
    "red and white circle no truck entry",
    "red circle with white horizonal stripe no entry",
    "red and white triangle with exclamation mark warning",
    "red and white triangle with black left curve approaching warning",
    "red and white triangle with black right curve approaching warning",
    "red and white triangle with black double curve approaching warning",
    "red and white triangle rough / bumpy road warning",
    "red and white triangle car skidding / slipping warning",
    "red and white triangle with merging / narrow lanes warning",
    "red and white triangle with person digging / construction / road work warning",
    "red and white triangle with traffic light approaching warning",
    "red and white triangle with person walking warning",
    "red and white triangle with child and person walking warning",
    "red and white triangle with bicyle warning",
    "red and white triangle with snowflake / ice warning",
    "red and white triangle with deer warning",
    "white circle with gray strike bar no speed limit",
    "blue circle with white right turn arrow mandatory",
    "blue circle with white left turn arrow mandatory",
    "blue circle with white forward arrow mandatory",
    "blue circle with white forward or right turn arrow mandatory",
    "blue circle with white forward or left turn arrow mandatory",
    "blue circle with white keep right arrow mandatory",
    "blue circle with white keep left arrow mandatory",
    "blue circle with white arrows indicating a traffic circle",
    "white circle with gray strike bar indicating no passing for cars has ended",
    "white circle with gray strike bar indicating no passing for trucks has ended",
]
GTSRB_TEMPLATES = [
    'a zoomed in photo of a "{}" traffic sign.',
    'a centered photo of a "{}" traffic sign.',
    'a close up photo of a "{}" traffic sign.',
]


def _root(spec: dict, dataset: str) -> Path:
    if not spec.get("root"):
        raise ConfigError(f"{dataset}: set `root:` of this task to the folder holding its files")
    return Path(spec["root"])


def _missing(dataset: str, root: Path, expected: str, err: BaseException) -> ArtifactError:
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return ArtifactError(
        f"{dataset}: cannot load from {root} ({reason}); expected {expected} under it: "
        "set download: false and place the files there, or allow network access"
    )


def _fetch(dataset: str, root: Path, spec: dict, download: Callable[[Path], Any], expected: str):
    """``download(root)`` unless the spec says ``download: false``; a failure names the files to
    place by hand."""
    if spec.get("download", True):
        try:
            download(root)
        except (RuntimeError, OSError) as err:
            raise _missing(dataset, root, expected, err) from err


def _eight_bit(image: Image.Image, name: str) -> Image.Image:
    """16-bit grey (modes ``I;16*`` and ``I``, Pillow's 0-65535 range) as 8-bit ``L``.

    Pillow's own ``convert`` clips these at 255, turning nearly every pixel white. The high byte
    is what Pillow keeps when it reads 16-bit colour PNGs, so grey and colour files agree.
    """
    if not (image.mode == "F" or image.mode.startswith("I")):
        return image
    pixels = np.asarray(image)
    if image.mode == "F" or pixels.min() < 0 or pixels.max() > 65535:
        raise ArtifactError(
            f"{name}: mode {image.mode} holds floating-point or 32-bit pixels, which have no "
            "known white level; save it as an 8- or 16-bit image"
        )
    return Image.fromarray((pixels >> 8).astype(np.uint8))


def _to_rgb(image: Image.Image, size: int) -> np.ndarray:
    """The picture as a viewer shows it: EXIF orientation applied and 8 bits per channel."""
    # the transposed image is a copy that no longer knows its file
    name = getattr(image, "filename", "") or "image"
    upright = _eight_bit(ImageOps.exif_transpose(image), name)
    return np.asarray(upright.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))


def _fill(dataset: Any, size: int, desc: str) -> tuple[np.ndarray, np.ndarray]:
    """Resize a torchvision dataset (items are ``(PIL image, int)``) into uint8 arrays."""
    images = np.empty((len(dataset), size, size, 3), dtype=np.uint8)
    labels = np.empty(len(dataset), dtype=np.int64)
    for i in tqdm(range(len(dataset)), desc=desc, leave=False):
        image, labels[i] = dataset[i]
        images[i] = _to_rgb(image, size)
    return images, labels


def _torchvision(
    dataset: str, expected: str, spec: dict, make: Callable[..., Any]
) -> tuple[Splits, Sequence[str]]:
    """Load train and test via ``make(train, root=..., download=...)``; also return the classes."""
    root = _root(spec, dataset)
    size = spec.get("image_size", 224)
    splits: Splits = {}
    for split in ("train", "test"):
        try:
            data = make(split == "train", root=str(root), download=spec.get("download", True))
        except ArtifactError:
            raise
        except (RuntimeError, OSError) as err:  # torchvision: "not found or corrupted", network
            raise _missing(dataset, root, expected, err) from err
        splits[split] = _fill(data, size, f"{dataset} {split}")
    return splits, getattr(data, "classes", [])


def torchvision_mnist(spec: dict, seed: int) -> RawDataset:
    """MNIST: 60k/10k 28x28 grayscale digits, stored as ``<root>/MNIST/raw/*-ubyte``."""
    from torchvision.datasets import MNIST

    expected = "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte"
    splits, _ = _torchvision("MNIST", expected, spec, lambda train, **kw: MNIST(train=train, **kw))
    return RawDataset(splits, DIGITS, DIGIT_TEMPLATES)


def torchvision_cifar10(spec: dict, seed: int) -> RawDataset:
    """CIFAR-10: 50k/10k 32x32 images, python batches in ``<root>/cifar-10-batches-py``."""
    from torchvision.datasets import CIFAR10

    expected = "cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}"
    splits, classes = _torchvision(
        "CIFAR10", expected, spec, lambda train, **kw: CIFAR10(train=train, **kw)
    )
    return RawDataset(splits, list(classes), OBJECT_TEMPLATES)


def torchvision_cifar100(spec: dict, seed: int) -> RawDataset:
    """CIFAR-100: 50k/10k 32x32 images, 100 fine labels, in ``<root>/cifar-100-python``."""
    from torchvision.datasets import CIFAR100

    expected = "cifar-100-python/{train,test,meta}"
    splits, classes = _torchvision(
        "CIFAR100", expected, spec, lambda train, **kw: CIFAR100(train=train, **kw)
    )
    # the meta file's fine label names ("aquarium_fish"), spaced as in CLIP's prompt lists
    return RawDataset(splits, [c.replace("_", " ") for c in classes], OBJECT_TEMPLATES)


def torchvision_svhn(spec: dict, seed: int) -> RawDataset:
    """SVHN: 73k/26k 32x32 house-number digits, ``<root>/{train,test}_32x32.mat``."""
    from torchvision.datasets import SVHN

    expected = "{train,test}_32x32.mat"
    splits, _ = _torchvision(
        "SVHN", expected, spec, lambda train, **kw: SVHN(split="train" if train else "test", **kw)
    )
    return RawDataset(splits, DIGITS, DIGIT_TEMPLATES)


def torchvision_stl10(spec: dict, seed: int) -> RawDataset:
    """STL-10: 5k/8k labelled 96x96 images, binaries in ``<root>/stl10_binary``.

    torchvision's integrity check also requires ``unlabeled_X.bin`` (2.6 GB), though unused.
    """
    from torchvision.datasets import STL10

    expected = "stl10_binary/{train_X,train_y,test_X,test_y,unlabeled_X}.bin"
    splits, _ = _torchvision(
        "STL10", expected, spec, lambda train, **kw: STL10(split="train" if train else "test", **kw)
    )
    return RawDataset(splits, STL10_CLASSES, OBJECT_TEMPLATES)


def _check_gtsrb_folders(training: Path) -> None:
    """torchvision labels a training image by the rank of its sorted class folder, which equals
    the ClassId only when no folder is missing: a partial copy would shift labels silently."""
    folders = sorted(p.name for p in training.iterdir() if p.is_dir())
    if folders != [f"{i:05d}" for i in range(len(folders))]:
        raise ArtifactError(
            f"GTSRB: class folders in {training} must be 00000, 00001, ... without gaps "
            f"(found {', '.join(folders[:5])}, ...); copy the complete Training folder"
        )


def torchvision_gtsrb(spec: dict, seed: int) -> RawDataset:
    """GTSRB: 26.6k/12.6k traffic-sign crops of varying size, 43 classes.

    Layout (torchvision): ``<root>/gtsrb/GTSRB/Training/<5-digit ClassId>/*.ppm``,
    ``<root>/gtsrb/GTSRB/Final_Test/Images/*.ppm`` and ``<root>/gtsrb/GT-final_test.csv``.
    """
    from torchvision.datasets import GTSRB

    expected = (
        "gtsrb/GTSRB/Training/<ClassId>/*.ppm, gtsrb/GTSRB/Final_Test/Images/*.ppm "
        "and gtsrb/GT-final_test.csv"
    )

    def make(train: bool, **kw: Any) -> GTSRB:
        data = GTSRB(split="train" if train else "test", **kw)
        if train:
            _check_gtsrb_folders(Path(kw["root"]) / "gtsrb" / "GTSRB" / "Training")
        return data

    splits, _ = _torchvision("GTSRB", expected, spec, make)
    return RawDataset(splits, GTSRB_CLASSES, GTSRB_TEMPLATES)


PAPER_SOURCES: dict[str, Callable[[dict, int], RawDataset]] = {
    "torchvision_mnist": torchvision_mnist,
    "torchvision_cifar10": torchvision_cifar10,
    "torchvision_cifar100": torchvision_cifar100,
    "torchvision_svhn": torchvision_svhn,
    "torchvision_stl10": torchvision_stl10,
    "torchvision_gtsrb": torchvision_gtsrb,
}
