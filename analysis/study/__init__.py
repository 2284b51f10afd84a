"""The stages the study notebook calls, one module per part of the report.

:mod:`~analysis.study.context` (settings and output folder of one run),
:mod:`~analysis.study.stages` (data, screening, measurement, structural model, effects,
recovery), :mod:`~analysis.study.robustness` (invariance, FIML, WLSMV, MLR, method bias,
modification indices, admissibility), :mod:`~analysis.study.behaviour` and
:mod:`~analysis.study.behaviour_attitudes` (the behavioural-loyalty chapter) and
:mod:`~analysis.study.display` (tables, appendices and run details as the reader sees
them). Library code never imports from here; this package imports the library.
"""

from __future__ import annotations

__all__: list[str] = []
