"""The four tasks of the 8-task CLIP benchmark that the NeuLig paper's profile lacks: SUN397,
Stanford Cars, EuroSAT and DTD (config/paper8.yaml; the other four are in
:mod:`neulig.data.paper_sources` and :mod:`neulig.data.resisc45`).

Each reads the files torchvision downloads (MD5-checked by torchvision) or that were placed by
hand (``download: false``, layouts in docs/paper.md), and uses the class names and prompt
templates of CLIP's ``data/prompts.md``, which FusionBench's zero-shot heads follow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from neulig.data.paper_sources import _fetch, _fill, _missing, _root, _to_rgb, _torchvision
from neulig.data.raw import RawDataset
from neulig.io import ArtifactError

DTD_TEMPLATES = [
    f"a photo of {article} {{}} {kind}."
    for article in ("a", "the")
    for kind in ("texture", "pattern", "thing", "object")
]
# CLIP's names for the sorted folders AnnualCrop, Forest, HerbaceousVegetation, Highway,
# Industrial, Pasture, PermanentCrop, Residential, River, SeaLake
EUROSAT_CLASSES = [
    "annual crop land",
    "forest",
    "brushland or shrubland",
    "highway or road",
    "industrial buildings or commercial buildings",
    "pasture land",
    "permanent crop land",
    "residential buildings or homes or apartments",
    "river",
    "lake or sea",
]
EUROSAT_TEMPLATES = [
    "a centered satellite photo of {}.",
    "a centered satellite photo of a {}.",
    "a centered satellite photo of the {}.",
]
CARS_TEMPLATES = [
    "a photo of a {}.",
    "a photo of the {}.",
    "a photo of my {}.",
    "i love my {}!",
    "a photo of my dirty {}.",
    "a photo of my clean {}.",
    "a photo of my new {}.",
    "a photo of my old {}.",
]
SUN397_TEMPLATES = ["a photo of a {}.", "a photo of the {}."]
# The official ten train/test partitions sit beside the images on the SUN site; the split used
# is partition 01 (50 train and 50 test images per class). torchvision pins no MD5 for it.
SUN397_PARTITIONS_URL = "https://vision.princeton.edu/projects/2010/SUN/download/Partitions.zip"


def torchvision_dtd(spec: dict, seed: int) -> RawDataset:
    """DTD: 47 textures, partition 1 of torchvision's ``<root>/dtd/dtd/{images,labels}``.

    The official train is train1 + val1 (3,760 images) and test is test1 (1,880), as the 8-task
    benchmark's experts were trained and scored; val is carved from train like every task's.
    """
    from torch.utils.data import ConcatDataset
    from torchvision.datasets import DTD

    def make(train: bool, **kw: Any) -> Any:
        if not train:
            return DTD(split="test", **kw)
        return ConcatDataset([DTD(split="train", **kw), DTD(split="val", **kw)])

    expected = "dtd/dtd/images/<class>/*.jpg and dtd/dtd/labels/{train,val,test}1.txt"
    splits, classes = _torchvision("DTD", expected, spec, make)
    return RawDataset(splits, [c.replace("_", " ") for c in classes], DTD_TEMPLATES)


def torchvision_stanford_cars(spec: dict, seed: int) -> RawDataset:
    """Stanford Cars: 196 models, the official 8,144 train / 8,041 test images.

    torchvision can no longer download it (the original URL is gone), so ``download`` is
    ignored and the files must be placed by hand; class names come from ``cars_meta.mat``.
    """
    from torchvision.datasets import StanfordCars

    expected = (
        "stanford_cars/{cars_train,cars_test}/*.jpg, stanford_cars/devkit/{cars_meta,"
        "cars_train_annos}.mat and stanford_cars/cars_test_annos_withlabels.mat (no download "
        "exists: copy them there)"
    )
    spec = {**spec, "download": False}  # torchvision raises ValueError on download=True

    def make(train: bool, **kw: Any) -> Any:
        return StanfordCars(split="train" if train else "test", **kw)

    splits, classes = _torchvision("StanfordCars", expected, spec, make)
    return RawDataset(splits, [str(c) for c in classes], CARS_TEMPLATES)


def torchvision_eurosat(spec: dict, seed: int) -> RawDataset:
    """EuroSAT (RGB): 27,000 64x64 Sentinel-2 patches, 10 classes, ``<root>/eurosat/2750``.

    It has no official split, so the images are one pool and test and val are carved from it
    with the seed (the benchmark's own 80/10/10 split was never published as lists).
    """
    from torchvision.datasets import EuroSAT

    root = _root(spec, "EuroSAT")
    try:
        data = EuroSAT(root=str(root), download=spec.get("download", True))
    except (RuntimeError, OSError) as err:  # torchvision: "not found", MD5 mismatch, network
        raise _missing("EuroSAT", root, "eurosat/2750/<class>/*.jpg", err) from err
    pool = _fill(data, spec.get("image_size", 224), "EuroSAT")
    return RawDataset({"all": pool}, EUROSAT_CLASSES, EUROSAT_TEMPLATES)


def _sun397_download(root: Path) -> None:
    from torchvision.datasets import SUN397
    from torchvision.datasets.utils import download_and_extract_archive

    if not (root / "SUN397").is_dir():
        url, md5 = SUN397._DATASET_URL, SUN397._DATASET_MD5
        download_and_extract_archive(url, str(root), md5=md5)
    if not list(root.rglob("Training_01.txt")):
        download_and_extract_archive(SUN397_PARTITIONS_URL, str(root / "Partitions"))


def _sun397_list(root: Path, name: str) -> list[str]:
    found = sorted(root.rglob(name))
    if not found:
        raise ArtifactError(
            f"SUN397: {name} not found under {root}; unzip {SUN397_PARTITIONS_URL} there"
        )
    return found[0].read_text().split()


def _sun397_split(root: Path, listing: str, index: dict[str, int], size: int):
    """The images one partition file lists (``/a/abbey/sun_x.jpg``) and their labels."""
    names = _sun397_list(root, listing)
    images = np.empty((len(names), size, size, 3), dtype=np.uint8)
    labels = np.empty(len(names), dtype=np.int64)
    for i, name in enumerate(tqdm(names, desc=f"SUN397 {listing}", leave=False)):
        path = root / "SUN397" / name.lstrip("/")
        folder = name.rsplit("/", 1)[0]
        if folder not in index:
            raise ArtifactError(f"SUN397: {listing} lists '{name}' of no class in ClassName.txt")
        labels[i] = index[folder]
        try:
            with Image.open(path) as image:
                images[i] = _to_rgb(image, size)
        except OSError as err:  # missing, truncated or not an image
            raise ArtifactError(f"SUN397: cannot read {path} (listed in {listing}): {err}") from err
    return images, labels


def torchvision_sun397(spec: dict, seed: int) -> RawDataset:
    """SUN397: 397 scene classes, partition 01 (19,850 train / 19,850 test images).

    Layout: torchvision's ``<root>/SUN397/{ClassName.txt,<letter>/<class>/sun_*.jpg}`` plus the
    official ``Training_01.txt`` and ``Testing_01.txt`` anywhere under ``<root>``.
    """
    root = _root(spec, "SUN397")
    expected = "SUN397/ClassName.txt, SUN397/<letter>/<class>/*.jpg and Training_01.txt"
    _fetch("SUN397", root, spec, _sun397_download, expected)
    class_file = root / "SUN397" / "ClassName.txt"
    if not class_file.is_file():
        raise ArtifactError(f"SUN397: {class_file} not found; extract SUN397.tar.gz into {root}")
    classes = class_file.read_text().split()  # "/a/abbey", "/a/apse/indoor", ...
    index = {c: i for i, c in enumerate(classes)}
    size = spec.get("image_size", 224)
    splits = {
        split: _sun397_split(root, f"{listing}_01.txt", index, size)
        for split, listing in (("train", "Training"), ("test", "Testing"))
    }
    # "/a/apse/indoor" -> "apse indoor", as CLIP's prompt list
    names = [c[3:].replace("/", " ").replace("_", " ") for c in classes]
    return RawDataset(splits, names, SUN397_TEMPLATES)


BENCH8_SOURCES = {
    "torchvision_dtd": torchvision_dtd,
    "torchvision_stanford_cars": torchvision_stanford_cars,
    "torchvision_eurosat": torchvision_eurosat,
    "torchvision_sun397": torchvision_sun397,
}
