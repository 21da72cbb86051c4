"""Tiny datasets written in the real on-disk formats that torchvision and the RESISC45 reader parse.

Each ``write_*`` helper lays a handful of random images of 2-3 classes out under ``root`` exactly
as the official download unpacks them, and returns the ground truth the reader must give back:
``{"train": (images, labels), "test": (images, labels)}`` with images uint8 [N, H, W, 3] at the
stored size, in the reader's order.
"""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image

Truth = dict[str, tuple[np.ndarray, np.ndarray]]


def _images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def ignore_md5(monkeypatch) -> None:
    """Fixture files cannot match the MD5 sums torchvision pins for the official CIFAR, SVHN and
    STL-10 files: keep its file-existence check and drop only the checksum comparison."""
    from torchvision.datasets import cifar, stl10, svhn

    def exists(fpath, md5=None) -> bool:
        return os.path.isfile(fpath)

    for module in (cifar, svhn, stl10):
        monkeypatch.setattr(module, "check_integrity", exists)


def _idx(path: Path, array: np.ndarray) -> None:
    """IDX: big-endian magic (0, 0, 0x08 = uint8, ndim), one uint32 per dim, raw bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


def write_mnist(root: Path) -> Truth:
    """``MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (uncompressed, as extracted)."""
    rng = np.random.default_rng(0)
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    truth = {}
    for split, prefix, n in (("train", "train", 6), ("test", "t10k", 4)):
        gray = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 3, n).astype(np.uint8)
        _idx(raw / f"{prefix}-images-idx3-ubyte", gray)
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        truth[split] = (np.repeat(gray[..., None], 3, axis=-1), labels.astype(np.int64))
    return truth


def _pickle(path: Path, obj: dict) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)


def _cifar_rows(images: np.ndarray) -> np.ndarray:
    """CIFAR rows: 1024 red, then green, then blue values of a 32x32 image, row-major."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


CIFAR10_NAMES = "airplane automobile bird cat deer dog frog horse ship truck".split()


def write_cifar10(root: Path) -> Truth:
    """``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}`` (pickled dicts)."""
    rng = np.random.default_rng(1)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    truth = {}
    for split, files in (
        ("train", [f"data_batch_{i}" for i in range(1, 6)]),
        ("test", ["test_batch"]),
    ):
        images, labels = _images(rng, 2 * len(files), 32), rng.integers(0, 3, 2 * len(files))
        for i, name in enumerate(files):
            part = slice(2 * i, 2 * i + 2)
            _pickle(
                folder / name, {"data": _cifar_rows(images[part]), "labels": labels[part].tolist()}
            )
        truth[split] = (images, labels.astype(np.int64))
    _pickle(folder / "batches.meta", {"label_names": CIFAR10_NAMES, "num_vis": 3072})
    return truth


CIFAR100_NAMES = ["apple", "aquarium_fish", "baby"] + [f"class_{i}" for i in range(3, 100)]


def write_cifar100(root: Path) -> Truth:
    """``cifar-100-python/{train, test, meta}`` (pickled dicts with fine and coarse labels)."""
    rng = np.random.default_rng(2)
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    truth = {}
    for split, n in (("train", 6), ("test", 4)):
        images, labels = _images(rng, n, 32), rng.integers(0, 3, n)
        entry = {
            "data": _cifar_rows(images),
            "fine_labels": labels.tolist(),
            "coarse_labels": [0] * n,
        }
        _pickle(folder / split, entry)
        truth[split] = (images, labels.astype(np.int64))
    meta = {"fine_label_names": CIFAR100_NAMES, "coarse_label_names": [f"c{i}" for i in range(20)]}
    _pickle(folder / "meta", meta)
    return truth


def write_svhn(root: Path) -> Truth:
    """``{train,test}_32x32.mat``: ``X`` uint8 [32, 32, 3, N], ``y`` [N, 1] with 10 for digit 0."""
    from scipy.io import savemat

    rng = np.random.default_rng(3)
    root.mkdir(parents=True, exist_ok=True)
    truth = {}
    for split, n in (("train", 6), ("test", 4)):
        images, labels = _images(rng, n, 32), rng.integers(0, 3, n)
        y = np.where(labels == 0, 10, labels).astype(np.uint8)[:, None]
        savemat(root / f"{split}_32x32.mat", {"X": images.transpose(1, 2, 3, 0), "y": y})
        truth[split] = (images, labels.astype(np.int64))
    return truth


def write_stl10(root: Path) -> Truth:
    """``stl10_binary/``: ``*_X.bin`` uint8 images stored column-major (per image: channel,
    then column, then row), ``*_y.bin`` 1-based uint8 labels, ``unlabeled_X.bin`` and
    ``class_names.txt``."""
    rng = np.random.default_rng(4)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    truth = {}
    for split, n in (("train", 6), ("test", 4)):
        images, labels = _images(rng, n, 96), rng.integers(0, 3, n)
        (folder / f"{split}_X.bin").write_bytes(images.transpose(0, 3, 2, 1).tobytes())
        (folder / f"{split}_y.bin").write_bytes((labels + 1).astype(np.uint8).tobytes())
        truth[split] = (images, labels.astype(np.int64))
    (folder / "unlabeled_X.bin").write_bytes(_images(rng, 1, 96).transpose(0, 3, 2, 1).tobytes())
    names = "airplane bird car cat deer dog horse monkey ship truck".split()
    (folder / "class_names.txt").write_text("\n".join(names) + "\n")
    return truth


GTSRB_HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"


def write_gtsrb(root: Path) -> Truth:
    """torchvision's ``gtsrb/`` layout after extracting the three official zips: per-class
    ``GTSRB/Training/<ClassId:05d>/<track>_<frame>.ppm`` (+ a ``GT-<ClassId>.csv`` the reader
    skips), ``GTSRB/Final_Test/Images/<n:05d>.ppm`` and the test labels in ``GT-final_test.csv``."""
    rng = np.random.default_rng(5)
    base = root / "gtsrb"
    train_x, train_y = _images(rng, 6, 32), np.repeat(np.arange(3), 2)
    for i, (image, label) in enumerate(zip(train_x, train_y, strict=True)):
        folder = base / "GTSRB" / "Training" / f"{label:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"00000_{i:05d}.ppm")
        (folder / f"GT-{label:05d}.csv").write_text(GTSRB_HEADER + "\n")
    test_x, test_y = _images(rng, 4, 32), np.array([2, 0, 1, 0])
    images = base / "GTSRB" / "Final_Test" / "Images"
    images.mkdir(parents=True)
    rows = [GTSRB_HEADER]
    for i, (image, label) in enumerate(zip(test_x, test_y, strict=True)):
        Image.fromarray(image).save(images / f"{i:05d}.ppm")
        rows.append(f"{i:05d}.ppm;32;32;5;5;27;27;{label}")
    (base / "GT-final_test.csv").write_text("\n".join(rows) + "\n")
    return {"train": (train_x, train_y), "test": (test_x, test_y)}


RESISC45_SUBSET = ["airplane", "airport", "baseball_diamond"]  # the first three labels


def write_resisc45(root: Path) -> Truth:
    """``NWPU-RESISC45/<class>/<class>_NNN.jpg`` and torchgeo's ``resisc45-{train,val,test}.txt``
    (one file name a line). Each image is one flat colour, which JPEG keeps to within +-2."""
    rng = np.random.default_rng(6)
    names, images = [], {}
    for folder in RESISC45_SUBSET:
        (root / "NWPU-RESISC45" / folder).mkdir(parents=True)
        for n in range(1, 5):
            name = f"{folder}_{n:03d}.jpg"
            images[name] = np.full((24, 24, 3), rng.integers(0, 256, 3), dtype=np.uint8)
            Image.fromarray(images[name]).save(root / "NWPU-RESISC45" / folder / name)
            names.append(name)
    order = [names[i] for i in rng.permutation(len(names))]
    lists = {"train": order[:6], "val": order[6:8], "test": order[8:]}
    truth = {}
    for split, listed in lists.items():
        (root / f"resisc45-{split}.txt").write_text("\n".join(listed) + "\n")
        labels = np.array([RESISC45_SUBSET.index(n.rsplit("_", 1)[0]) for n in listed])
        truth[split] = (np.stack([images[n] for n in listed]), labels)
    del truth["val"]
    return truth
