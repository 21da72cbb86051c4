"""NWPU-RESISC45 (the NeuLig paper's aerial-scene task) with torchgeo's official split lists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from neulig.data.paper_sources import Splits, _fetch, _root, _to_rgb
from neulig.data.raw import RawDataset
from neulig.io import ArtifactError

# sorted folder names of NWPU-RESISC45; label = index
RESISC45_FOLDERS = """
airplane airport baseball_diamond basketball_court beach bridge chaparral church
circular_farmland cloud commercial_area dense_residential desert forest freeway golf_course
ground_track_field harbor industrial_area intersection island lake meadow medium_residential
mobile_home_park mountain overpass palace parking_lot railway railway_station
rectangular_farmland river roundabout runway sea_ice ship snowberg sparse_residential stadium
storage_tank tennis_court terrace thermal_power_station wetland
""".split()
RESISC45_TEMPLATES = [
    "satellite imagery of {}.",
    "aerial imagery of {}.",
    "satellite photo of {}.",
    "aerial photo of {}.",
    "satellite view of {}.",
    "aerial view of {}.",
]
# torchgeo's mirror, pinned to one revision; the split lists are those of Neumann et al. 2019
# ("In-domain representation learning for remote sensing"), as used by torchgeo and FusionBench.
RESISC45_URL = (
    "https://hf.co/datasets/torchgeo/resisc45/resolve/a826b44d938a883185f11ebe3d512d38b464312f/"
)
RESISC45_MD5 = {
    "NWPU-RESISC45.zip": "75206b2e16446591afa88e2628744886",
    "resisc45-train.txt": "b5a4c05a37de15e4ca886696a85c403e",
    "resisc45-test.txt": "3dda9e4988b47eb1de9f07993653eb08",
}


_RESISC45_FIX = (
    f"unzip {RESISC45_URL}NWPU-RESISC45.zip into the root and download resisc45-train.txt and "
    "resisc45-test.txt from the same URL folder into the root"
)


def _download_resisc45(root: Path) -> None:
    # torchvision brings torch (~2 s): only a download needs it, not reading the local copy
    from torchvision.datasets.utils import download_and_extract_archive, download_url

    if not (root / "NWPU-RESISC45").is_dir():
        name = "NWPU-RESISC45.zip"
        download_and_extract_archive(RESISC45_URL + name, str(root), md5=RESISC45_MD5[name])
    for name in ("resisc45-train.txt", "resisc45-test.txt"):
        download_url(RESISC45_URL + name, str(root), md5=RESISC45_MD5[name])


def _resisc45_files(root: Path, split: str) -> list[tuple[Path, int]]:
    """The images a split file lists, each with its label; every one must exist."""
    listing = root / f"resisc45-{split}.txt"
    if not listing.is_file():
        raise ArtifactError(f"RESISC45: split file {listing} not found; {_RESISC45_FIX}")
    index = {folder: label for label, folder in enumerate(RESISC45_FOLDERS)}
    files = []
    for name in listing.read_text().split():
        folder = name.rsplit("_", 1)[0]  # "baseball_diamond_012.jpg" -> "baseball_diamond"
        if folder not in index:
            raise ArtifactError(f"RESISC45: {listing} lists '{name}' of no known class")
        path = root / "NWPU-RESISC45" / folder / name
        if not path.is_file():
            raise ArtifactError(
                f"RESISC45: {path} (listed in {listing}) is missing; {_RESISC45_FIX}"
            )
        files.append((path, index[folder]))
    return files


def resisc45(spec: dict, seed: int) -> RawDataset:
    """NWPU-RESISC45: 256x256 aerial scenes, 45 classes, with torchgeo's official split lists.

    Layout (torchgeo's): ``<root>/NWPU-RESISC45/<class>/<class>_NNN.jpg`` plus
    ``<root>/resisc45-train.txt`` and ``<root>/resisc45-test.txt`` (one file name a line;
    18,900 train and 6,300 test images; the val list is not needed because val is carved from
    train). With ``download`` these come from ``RESISC45_URL`` (torchgeo's Hugging Face mirror)
    and are MD5-checked; hand-placed files are only checked for presence.
    """
    root = _root(spec, "RESISC45")
    size = spec.get("image_size", 224)
    expected = "NWPU-RESISC45/<class>/*.jpg and resisc45-{train,test}.txt"
    _fetch("RESISC45", root, spec, _download_resisc45, expected)
    splits: Splits = {}
    for split in ("train", "test"):
        files = _resisc45_files(root, split)
        images = np.empty((len(files), size, size, 3), dtype=np.uint8)
        for i, (path, _) in enumerate(tqdm(files, desc=f"RESISC45 {split}", leave=False)):
            try:
                with Image.open(path) as image:
                    images[i] = _to_rgb(image, size)
            except OSError as err:  # truncated or not an image: hand-copied files do break
                raise ArtifactError(
                    f"RESISC45: cannot decode {path} ({err}); copy it again"
                ) from err
        splits[split] = (images, np.array([label for _, label in files], dtype=np.int64))
    return RawDataset(splits, [f.replace("_", " ") for f in RESISC45_FOLDERS], RESISC45_TEMPLATES)
