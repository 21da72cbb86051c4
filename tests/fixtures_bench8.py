"""Tiny copies of the 8-task benchmark's four extra datasets in their real on-disk formats:
DTD, Stanford Cars, EuroSAT and SUN397 as torchvision (or the official archives) unpack them.

Each image is one flat colour, which JPEG keeps to within a few levels, so a reader can be
checked image by image. Every ``write_*`` returns ``{split: (colours [N, 3], labels [N])}`` in
the reader's order (``all`` for EuroSAT, which has no official split).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

Truth = dict[str, tuple[np.ndarray, np.ndarray]]


def _jpeg(path: Path, colour: np.ndarray, size: int = 24) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), colour, dtype=np.uint8)).save(path)


def _colours(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 3)).astype(np.uint8)


DTD_SUBSET = ["banded", "blotchy", "braided"]  # the first three of the 47, sorted


def write_dtd(root: Path) -> Truth:
    """``dtd/dtd/images/<class>/<class>_NNNN.jpg`` and ``dtd/dtd/labels/{train,val,test}1.txt``
    (``<class>/<file>`` a line); every split lists every class, as the real partitions do."""
    rng = np.random.default_rng(10)
    base = root / "dtd" / "dtd"
    lists: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    colours: dict[str, np.ndarray] = {}
    n = 0
    for split in lists:
        for cls in DTD_SUBSET:
            name = f"{cls}/{cls}_{n:04d}.jpg"
            colours[name] = _colours(rng, 1)[0]
            _jpeg(base / "images" / name, colours[name])
            lists[split].append(name)
            n += 1
    for split, names in lists.items():
        (base / "labels").mkdir(parents=True, exist_ok=True)
        (base / "labels" / f"{split}1.txt").write_text("\n".join(names) + "\n")

    def truth(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        labels = np.array([DTD_SUBSET.index(n.split("/")[0]) for n in names], dtype=np.int64)
        return np.stack([colours[n] for n in names]), labels

    # the reader's train is train1 then val1
    return {"train": truth(lists["train"] + lists["val"]), "test": truth(lists["test"])}


CARS_NAMES = ["AM General Hummer SUV 2000", "Acura RL Sedan 2012", "Acura TL Sedan 2012"]


def _annotations(path: Path, fnames: list[str], classes: np.ndarray) -> None:
    """A MATLAB struct array ``annotations`` with the devkit's fields (class is 1-based)."""
    from scipy.io import savemat

    fields = ["bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"]
    table = np.zeros((1, len(fnames)), dtype=[(f, "O") for f in fields])
    for i, (fname, cls) in enumerate(zip(fnames, classes, strict=True)):
        table[0, i] = (1, 1, 20, 20, int(cls) + 1, fname)
    savemat(path, {"annotations": table})


def write_stanford_cars(root: Path) -> Truth:
    """``stanford_cars/{cars_train,cars_test}/NNNNN.jpg``, ``devkit/cars_meta.mat``
    (``class_names`` cell array), ``devkit/cars_train_annos.mat`` and
    ``cars_test_annos_withlabels.mat`` (struct arrays of bbox, class, fname)."""
    from scipy.io import savemat

    rng = np.random.default_rng(11)
    base = root / "stanford_cars"
    (base / "devkit").mkdir(parents=True)
    savemat(
        base / "devkit" / "cars_meta.mat", {"class_names": np.array([CARS_NAMES], dtype=object)}
    )
    truth = {}
    for split, folder, annos, n in (
        ("train", "cars_train", base / "devkit" / "cars_train_annos.mat", 6),
        ("test", "cars_test", base / "cars_test_annos_withlabels.mat", 4),
    ):
        colours, labels = _colours(rng, n), rng.integers(0, 3, n)
        fnames = [f"{i + 1:05d}.jpg" for i in range(n)]
        for fname, colour in zip(fnames, colours, strict=True):
            _jpeg(base / folder / fname, colour)
        _annotations(annos, fnames, labels)
        truth[split] = (colours, labels.astype(np.int64))
    return truth


EUROSAT_FOLDERS = ["AnnualCrop", "Forest", "HerbaceousVegetation"]  # the first three, sorted


def write_eurosat(root: Path) -> Truth:
    """``eurosat/2750/<Class>/<Class>_<n>.jpg``, as EuroSAT.zip unpacks (64x64 in reality)."""
    rng = np.random.default_rng(12)
    colours, labels = [], []
    for label, folder in enumerate(EUROSAT_FOLDERS):
        for n in range(1, 4):  # ImageFolder's order: sorted file names within a class
            colour = _colours(rng, 1)[0]
            _jpeg(root / "eurosat" / "2750" / folder / f"{folder}_{n}.jpg", colour, size=64)
            colours.append(colour)
            labels.append(label)
    return {"all": (np.stack(colours), np.array(labels, dtype=np.int64))}


SUN397_CLASSES = ["/a/abbey", "/a/apse/indoor", "/b/beach"]


def write_sun397(root: Path) -> Truth:
    """``SUN397/ClassName.txt``, ``SUN397/<letter>/<class>/sun_<id>.jpg`` and the official
    ``Partitions/{Training,Testing}_01.txt`` (``/<letter>/<class>/sun_<id>.jpg`` a line)."""
    rng = np.random.default_rng(13)
    base = root / "SUN397"
    base.mkdir(parents=True)
    (base / "ClassName.txt").write_text("\n".join(SUN397_CLASSES) + "\n")
    (root / "Partitions").mkdir()
    _jpeg(base / "a" / "abbey" / "sun_unlisted.jpg", _colours(rng, 1)[0])  # in no partition 01
    truth = {}
    for split, listing in (("train", "Training_01.txt"), ("test", "Testing_01.txt")):
        labels = np.array([0, 1, 2, 1] if split == "train" else [2, 0, 1], dtype=np.int64)
        colours = _colours(rng, len(labels))
        names = [
            f"{SUN397_CLASSES[label]}/sun_{split}{i:03d}.jpg" for i, label in enumerate(labels)
        ]
        for name, colour in zip(names, colours, strict=True):
            _jpeg(base / name.lstrip("/"), colour)
        (root / "Partitions" / listing).write_text("\n".join(names) + "\n")
        truth[split] = (colours, labels)
    return truth
