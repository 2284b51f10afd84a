"""Write a power study: power.csv, minimum_n.csv, power_curve.png and a manifest.

The folder is built aside and swapped in whole (:class:`analysis.atomic.StagingDirectory`),
and the manifest records the design, the seed, the package versions and the hash of
every file, so a sample-size recommendation can be traced and reproduced.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from analysis.atomic import StagingDirectory, atomic_write_text
from analysis.power.run import POWER_COLUMNS, PowerResult

__all__ = ["write_power_outputs"]


def write_power_outputs(result: PowerResult, out_dir: str | Path, *, language: str = "en",
                        settings=None) -> dict[str, Path]:
    """Write the study into ``out_dir`` (replaced atomically); returns name -> path."""
    from analysis.plots import save_figure
    from analysis.plots.power import power_curves
    from analysis.provenance import output_files, package_versions

    final = Path(out_dir)
    design = result.design
    with StagingDirectory(final) as work:
        paths = {
            "power": atomic_write_text(work / "power.csv",
                                       result.table[POWER_COLUMNS].to_csv(index=False, float_format="%.6g")),
            "details": atomic_write_text(work / "power_details.csv",
                                         result.table.to_csv(index=False, float_format="%.6g")),
            "minimum_n": atomic_write_text(work / "minimum_n.csv",
                                           result.minimum_n.to_csv(index=False, float_format="%.6g")),
        }
        paths["figure"] = save_figure(power_curves(result.table, design.target, language=language), work,
                                      "power_curve")
        record = {
            "design": {field.name: getattr(design, field.name) for field in dataclasses.fields(design)
                       if field.name not in ("truth", "syntax")},
            "assumed_paths": {f"{o} ~ {p}": v for (o, p), v in design.truth.paths.items()},
            "model": design.syntax,
            "settings": settings.to_dict() if settings is not None else None,
            "versions": package_versions(),
            "outputs": output_files(work),
        }
        atomic_write_text(work / "manifest.json", json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n")
    return {name: final / path.name for name, path in paths.items()}
