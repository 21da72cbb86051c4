"""Paper-profile sources read tiny fixtures written in each dataset's real on-disk format."""

import shutil

import numpy as np
import pytest

from neulig.data.prepare import make_splits
from neulig.data.sources import SOURCES as PAPER_SOURCES
from neulig.io import ArtifactError, ConfigError

from .fixtures_formats import (
    ignore_md5,
    write_cifar10,
    write_cifar100,
    write_gtsrb,
    write_mnist,
    write_resisc45,
    write_stl10,
    write_svhn,
)

# source -> (fixture writer, stored image size, class count, dataset name used in errors)
CASES = {
    "torchvision_mnist": (write_mnist, 28, 10, "MNIST"),
    "torchvision_cifar10": (write_cifar10, 32, 10, "CIFAR10"),
    "torchvision_cifar100": (write_cifar100, 32, 100, "CIFAR100"),
    "torchvision_svhn": (write_svhn, 32, 10, "SVHN"),
    "torchvision_stl10": (write_stl10, 96, 10, "STL10"),
    "torchvision_gtsrb": (write_gtsrb, 32, 43, "GTSRB"),
    "resisc45": (write_resisc45, 24, 45, "RESISC45"),
}


def load(source: str, root, **spec):
    return PAPER_SOURCES[source]({"root": str(root), "download": False, **spec}, 0)


@pytest.mark.parametrize("source", [s for s in CASES if s != "resisc45"])
def test_reads_the_official_layout_pixel_for_pixel(source, tmp_path, monkeypatch):
    ignore_md5(monkeypatch)
    write, size, n_classes, _ = CASES[source]
    truth = write(tmp_path)
    # at the stored size the resize is the identity, so pixels and their layout must match
    raw = load(source, tmp_path, image_size=size)
    assert set(raw.splits) == {"train", "test"}
    for split, (images, labels) in truth.items():
        got_images, got_labels = raw.splits[split]
        assert got_images.dtype == np.uint8 and got_images.shape == (len(labels), size, size, 3)
        assert got_labels.dtype == np.int64
        np.testing.assert_array_equal(got_labels, labels)
        np.testing.assert_array_equal(got_images, images)
    assert len(raw.classnames) == n_classes
    assert raw.templates and all("{}" in t for t in raw.templates)


def test_resizes_grayscale_to_square_rgb(tmp_path):
    write_mnist(tmp_path)
    images, _ = load("torchvision_mnist", tmp_path, image_size=16).splits["train"]
    assert images.shape == (6, 16, 16, 3)
    assert (images[..., 0] == images[..., 2]).all()


def test_resisc45_follows_the_split_lists(tmp_path):
    truth = write_resisc45(tmp_path)
    raw = load("resisc45", tmp_path)  # default size: CLIP's 224
    for split, (images, labels) in truth.items():
        got_images, got_labels = raw.splits[split]
        assert got_images.shape == (len(labels), 224, 224, 3) and got_images.dtype == np.uint8
        np.testing.assert_array_equal(got_labels, labels)
        # flat colours survive JPEG and resizing: each image came back in its listed place
        colours = got_images.reshape(len(labels), -1, 3).astype(float).mean(axis=1)
        np.testing.assert_allclose(colours, images[:, 0, 0], atol=3)
    assert raw.classnames[:3] == ["airplane", "airport", "baseball diamond"]
    assert len(raw.classnames) == 45


def test_class_names_follow_clip(tmp_path, monkeypatch):
    ignore_md5(monkeypatch)
    write_cifar100(tmp_path)
    names = load("torchvision_cifar100", tmp_path, image_size=8).classnames
    assert names[:3] == ["apple", "aquarium fish", "baby"]


@pytest.mark.parametrize("source", CASES)
def test_missing_files_name_the_dataset_and_the_fix(source, tmp_path):
    name = CASES[source][3]
    with pytest.raises(ArtifactError, match=name) as err:
        load(source, tmp_path / "absent")
    assert "\n" not in str(err.value)


def test_missing_root_key_is_a_config_error():
    with pytest.raises(ConfigError, match="root"):
        PAPER_SOURCES["torchvision_cifar10"]({"download": False}, 0)


def test_checksum_mismatch_is_reported_with_the_fix(tmp_path):
    write_cifar10(tmp_path)  # real torchvision MD5 check: fixture bytes differ from the official
    with pytest.raises(ArtifactError, match="CIFAR10.*set download: false"):
        load("torchvision_cifar10", tmp_path)


def test_gtsrb_rejects_a_gap_in_the_class_folders(tmp_path):
    write_gtsrb(tmp_path)
    shutil.rmtree(tmp_path / "gtsrb" / "GTSRB" / "Training" / "00001")
    with pytest.raises(ArtifactError, match="without gaps"):
        load("torchvision_gtsrb", tmp_path, image_size=8)


def test_resisc45_names_the_first_missing_image(tmp_path):
    write_resisc45(tmp_path)
    listed = (tmp_path / "resisc45-test.txt").read_text().split()
    folder = listed[0].rsplit("_", 1)[0]
    (tmp_path / "NWPU-RESISC45" / folder / listed[0]).unlink()
    with pytest.raises(ArtifactError, match=listed[0]):
        load("resisc45", tmp_path, image_size=8)


def test_make_splits_holds_val_out_of_the_official_train_set(tmp_path, monkeypatch):
    ignore_md5(monkeypatch)
    write_cifar10(tmp_path)
    raw = load("torchvision_cifar10", tmp_path, image_size=32)
    splits = make_splits(raw, {"test": 1, "val": 3}, seed=0)
    assert len(splits["test"].labels) == 1 and len(splits["val"].labels) == 3
    assert len(splits["train"].labels) == 10 - 3
    pool = {image.tobytes() for image in raw.splits["train"][0]}
    val = {image.tobytes() for image in splits["val"].images}
    train = {image.tobytes() for image in splits["train"].images}
    assert val <= pool and train <= pool and not val & train
    assert {image.tobytes() for image in splits["test"].images} <= {
        image.tobytes() for image in raw.splits["test"][0]
    }
