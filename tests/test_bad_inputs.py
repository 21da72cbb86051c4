"""Bad dataset inputs fail with one line that names the file, folder or class and the fix."""

import json

import numpy as np
import pytest
from PIL import Image

from neulig.data.prepare import prepare_task
from neulig.data.sources import SOURCES
from neulig.io import ArtifactError


def _folder(root, counts: dict[str, int]):
    """``root/<class>/<i>.png`` with ``counts[class]`` real PNGs each."""
    rng = np.random.default_rng(0)
    for cls, n in counts.items():
        (root / cls).mkdir(parents=True)
        for i in range(n):
            pixels = rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f"{i}.png")
    return root


def _spec(root, **splits):
    return {"source": "imagefolder", "root": str(root), "image_size": 8, "splits": splits}


def _raises_one_line(error, call, *needles):
    with pytest.raises(error) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for needle in needles:
        assert str(needle) in message, message
    return message


def test_truncated_png_names_the_file(tmp_path):
    root = _folder(tmp_path / "flowers", {"rose": 4, "tulip": 4})
    bad = root / "tulip" / "2.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    message = _raises_one_line(
        ArtifactError, lambda: SOURCES["imagefolder"](_spec(root), 0), bad, "remove or replace"
    )
    assert "truncated" in message


def test_text_file_named_png_names_the_file(tmp_path):
    root = _folder(tmp_path / "flowers", {"rose": 4, "tulip": 4})
    bad = root / "rose" / "x.png"
    bad.write_text("not a picture")
    _raises_one_line(
        ArtifactError, lambda: SOURCES["imagefolder"](_spec(root), 0), bad, "remove or replace"
    )


def test_one_class_folder_is_rejected(tmp_path):
    root = _folder(tmp_path / "pets", {"cats": 5})
    _raises_one_line(
        ArtifactError,
        lambda: SOURCES["imagefolder"](_spec(root), 0),
        f"{root}: found 1 class folder ('cats')",
        "at least two classes",
    )


def test_one_class_in_the_official_test_folder_is_rejected(tmp_path):
    root = tmp_path / "pets"
    _folder(root / "train", {"cats": 5, "dogs": 5})
    _folder(root / "test", {"cats": 5})
    _raises_one_line(
        ArtifactError,
        lambda: SOURCES["imagefolder"](_spec(root), 0),
        root / "test",
        "found 1 class folder",
    )


def test_folder_without_class_folders_is_rejected(tmp_path):
    root = tmp_path / "loose"
    root.mkdir()
    Image.new("RGB", (4, 4)).save(root / "a.png")
    _raises_one_line(
        ArtifactError, lambda: SOURCES["imagefolder"](_spec(root), 0), root, "no class folders"
    )


def test_class_folder_without_images_is_rejected(tmp_path):
    root = _folder(tmp_path / "pets", {"cats": 5, "dogs": 5})
    (root / "fish").mkdir()
    (root / "fish" / "notes.txt").write_text("todo")
    _raises_one_line(
        ArtifactError,
        lambda: SOURCES["imagefolder"](_spec(root), 0),
        root / "fish",
        "no image files",
    )


def test_class_folder_with_too_few_images_is_rejected(tmp_path):
    # test, val and train are carved from the one folder: a class needs three images
    root = _folder(tmp_path / "pets", {"cats": 5, "dogs": 2})
    _raises_one_line(
        ArtifactError,
        lambda: SOURCES["imagefolder"](_spec(root, test=2, val=2), 0),
        root / "dogs",
        "2 image(s)",
        "test/val/train",
    )
    # without val, two images of a class are enough
    assert SOURCES["imagefolder"](_spec(root, test=2), 0).classnames == ["cats", "dogs"]


def test_cli_download_prints_one_line_naming_the_file(tmp_path, capsys):
    from neulig.cli import main

    root = _folder(tmp_path / "flowers", {"rose": 4, "tulip": 4})
    bad = root / "rose" / "1.png"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    params = {"spec": _spec(root, test=1, val=1), "seed": 0}
    argv = ["download", "--task", "t", "--params", json.dumps(params)]
    rc = main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert rc == 1
    assert err.count("\n") == 1 and err.startswith("neulig download: error: ")
    assert str(bad) in err and "Traceback" not in err


def test_prepare_task_still_reads_a_good_folder(tmp_path):
    root = _folder(tmp_path / "pets", {"cats": 3, "dogs": 3})
    task = prepare_task("pets", _spec(root, test=1, val=1), 0, tmp_path / "packed")
    assert {k: len(v.labels) for k, v in task.splits.items()}["train"] == 4
