"""What the report's sections read: every records file as one table, and the diagnostics."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from neulig import io
from neulig.reporting.tables import load_records


@dataclass(frozen=True)
class ReportInputs:
    records: pd.DataFrame
    compared: pd.DataFrame  # routers with other losses: extra rows of the levels table only
    betas: list[dict]  # NeuLig's mean beta per task, one per combination
    merge_infos: list[dict]  # the merged checkpoints' sidecars (hyper-parameters chosen)
    params: dict  # the config's ``report`` block
    features: list[str] = ()  # the experts' cached features (the confidence section)
    heads: str | None = None  # the zero-shot heads file

    @classmethod
    def read(
        cls,
        record_paths: list[str | os.PathLike],
        compared_paths: list[str | os.PathLike],
        betas_paths: list[str | os.PathLike],
        merge_info_paths: list[str | os.PathLike],
        params: dict,
        features: list[str] = (),
        heads: str | None = None,
    ) -> ReportInputs:
        records = load_records(record_paths)
        compared = load_records(compared_paths) if compared_paths else records.iloc[:0]
        betas = [io.read_json(p) for p in betas_paths]
        infos = [io.read_json(p) for p in merge_info_paths]
        return cls(records, compared, betas, infos, params, list(features), heads)
