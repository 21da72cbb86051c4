"""The 8-task benchmark's extra sources read tiny fixtures in each dataset's real on-disk format
(tests/fixtures_bench8.py)."""

import numpy as np
import pytest

from neulig.data.prepare import make_splits
from neulig.data.sources import SOURCES
from neulig.io import ArtifactError

from .fixtures_bench8 import (
    CARS_NAMES,
    write_dtd,
    write_eurosat,
    write_stanford_cars,
    write_sun397,
)

# source -> (fixture writer, dataset name in errors, class names the reader gives first)
CASES = {
    "torchvision_dtd": (write_dtd, "DTD", ["banded", "blotchy", "braided"]),
    "torchvision_stanford_cars": (write_stanford_cars, "StanfordCars", CARS_NAMES),
    "torchvision_eurosat": (write_eurosat, "EuroSAT", ["annual crop land", "forest"]),
    "torchvision_sun397": (write_sun397, "SUN397", ["abbey", "apse indoor", "beach"]),
}


def load(source: str, root, **spec):
    return SOURCES[source]({"root": str(root), "download": False, "image_size": 8, **spec}, 0)


@pytest.mark.parametrize("source", CASES)
def test_reads_each_listed_image_with_its_label(source, tmp_path):
    write, _, names = CASES[source]
    truth = write(tmp_path)
    raw = load(source, tmp_path)
    assert set(raw.splits) == set(truth)
    for split, (colours, labels) in truth.items():
        images, got_labels = raw.splits[split]
        assert images.shape == (len(labels), 8, 8, 3) and images.dtype == np.uint8
        np.testing.assert_array_equal(got_labels, labels)
        # flat colours survive JPEG and resizing: each image came back in its listed place
        means = images.reshape(len(labels), -1, 3).astype(float).mean(axis=1)
        np.testing.assert_allclose(means, colours, atol=4)
    assert raw.classnames[: len(names)] == names
    assert raw.templates and all("{}" in t for t in raw.templates)


@pytest.mark.parametrize("source", CASES)
def test_missing_files_name_the_dataset_in_one_line(source, tmp_path):
    with pytest.raises(ArtifactError, match=CASES[source][1]) as err:
        load(source, tmp_path / "absent")
    assert "\n" not in str(err.value)


def test_stanford_cars_never_tries_the_dead_download(tmp_path):
    # torchvision raises ValueError for download=True; the loader turns it into placing files
    with pytest.raises(ArtifactError, match="no download exists"):
        load("torchvision_stanford_cars", tmp_path, download=True)


def test_eurosat_carves_test_and_val_from_its_one_pool(tmp_path):
    write_eurosat(tmp_path)
    splits = make_splits(load("torchvision_eurosat", tmp_path), {"test": 3, "val": 2}, seed=0)
    assert [len(splits[s].labels) for s in ("test", "val", "train")] == [3, 2, 4]


def test_sun397_names_a_listed_but_missing_image(tmp_path):
    write_sun397(tmp_path)
    listed = (tmp_path / "Partitions" / "Testing_01.txt").read_text().split()
    (tmp_path / "SUN397" / listed[0].lstrip("/")).unlink()
    with pytest.raises(ArtifactError, match=listed[0].rsplit("/", 1)[1]):
        load("torchvision_sun397", tmp_path)
