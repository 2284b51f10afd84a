"""Command line: ``python -m analysis <command>`` (also installed as ``eloyalty``).

Commands
--------
report      execute the study notebook for a client profile and render the report
simulate    write a simulated survey (responses, respondent truth, truth.json)
fit         fit any lavaan-syntax model to any data file and write the tables
invariance  measurement invariance across groups (configural, metric, scalar, strict)
survey      export the codebook and printable questionnaires, the XLSForm for fielding
            (``survey xlsform``) and a simulated KoboToolbox export (``survey kobo-example``)
batch       render many clients' reports in parallel on Dask, skipping unchanged ones
profile     validate a client profile and print the notebook parameters

User errors (bad profile, malformed data, invalid model, non-convergence) print one
line, ``error: ...``, and exit non-zero without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from analysis.errors import MESSAGE_LIMIT, ConfigError, WorkbenchError, one_line, shorten

__all__ = ["main", "build_parser"]


def _cmd_report(args: argparse.Namespace) -> int:
    from analysis.report.build import build_report

    final = build_report(client=args.client, renderer=args.renderer)
    print(f"report written to {final / 'index.html'}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from analysis.instrument import load_instrument
    from analysis.simulate import simulate_survey, write_simulated_survey

    sim = simulate_survey(load_instrument(args.instrument), n=args.n, careless_share=args.careless_share,
                          missing_share=args.missing_share, random_state=args.seed)
    paths = write_simulated_survey(sim, args.out)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def _cmd_fit(args: argparse.Namespace) -> int:
    from analysis.cli.fit import run_fit

    run_fit(data=args.data, model=args.model, out=args.out, estimator=args.estimator, group=args.group,
            group_equal=args.group_equal, ordered=args.ordered, missing=args.missing, bootstrap=args.bootstrap,
            seed=args.seed, n_jobs=args.jobs, effects=args.effect, modindices=args.modindices)
    print(f"results written to {args.out}")
    return 0


def _cmd_invariance(args: argparse.Namespace) -> int:
    from analysis.cli.fit import run_invariance

    for path in run_invariance(data=args.data, model=args.model, group=args.group, out=args.out,
                               missing=args.missing).values():
        print(path)
    return 0


def _cmd_survey(args: argparse.Namespace) -> int:
    from analysis.instrument import load_instrument
    from analysis.instrument.questionnaire import export_survey

    for path in export_survey(load_instrument(args.instrument), args.out):
        print(path)
    return 0


def _cmd_xlsform(args: argparse.Namespace) -> int:
    from analysis.instrument import load_instrument
    from analysis.instrument.xlsform import write_xlsform

    print(write_xlsform(load_instrument(args.instrument), args.out, overwrite=args.force))
    return 0


def _cmd_kobo_example(args: argparse.Namespace) -> int:
    from analysis.instrument import load_instrument
    from analysis.simulate.kobo_export import write_kobo_export

    print(write_kobo_export(load_instrument(args.instrument), args.out, n=args.n, seed=args.seed,
                            language=args.language, labels=args.labels, overwrite=args.force))
    return 0


def _cmd_batch(args: argparse.Namespace) -> int:
    from analysis.report.batch import format_summary, run_batch

    result = run_batch(args.clients, workers=args.workers, scheduler=args.scheduler, force=args.force,
                       summary_dir=args.out_summary)
    print(format_summary(result))
    if result.failed:
        print(f"error: {len(result.failed)} of {len(result.outcomes)} clients failed: "
              + ", ".join(o.client for o in result.failed), file=sys.stderr)
    return result.exit_code


def _cmd_profile(args: argparse.Namespace) -> int:
    from analysis.profile.settings import load_profile

    profile = load_profile(args.client)
    print(json.dumps(profile.to_dict(), indent=2, ensure_ascii=False))
    return 0


def _sample_sizes(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--n: expected comma-separated whole numbers such as 200,300,500, got {shorten(text)}") from None
    if not sizes or any(not 50 <= n <= 100_000 for n in sizes):
        raise ConfigError(f"--n: expected sample sizes between 50 and 100000, got {shorten(text)}")
    return sizes


def _cmd_power(args: argparse.Namespace) -> int:
    from analysis.instrument import load_instrument
    from analysis.power import design_from_settings, run_power, write_power_outputs
    from analysis.profile import load_profile

    settings = load_profile(args.client)
    if args.reps is not None and not 10 <= args.reps <= 100_000:
        raise ConfigError(f"--reps: expected a number of replications between 10 and 100000, got {args.reps}")
    instrument = load_instrument(settings.survey.instrument)
    design = design_from_settings(settings, instrument, sample_sizes=_sample_sizes(args.n), replications=args.reps)
    result = run_power(design, instrument, n_workers=args.workers, scheduler=args.scheduler)
    paths = write_power_outputs(result, args.out, language=settings.report.language, settings=settings)
    for rec in result.minimum_n.itertuples():
        needed = "not reached" if rec.minimum_n != rec.minimum_n else f"N = {int(rec.minimum_n)}"
        print(f"{rec.parameter:<24} true {rec.true:+.2f}  power {design.target:.0%}: {needed}")
    print(f"results written to {paths['power'].parent}")
    return 0


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option as a one-line ConfigError instead of usage text."""

    def error(self, message: str):
        raise ConfigError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m analysis", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    rep = sub.add_parser("report", help="run the study notebook and render reports/_output/<client>/")
    rep.add_argument("--client", default="default", help="profile name in reports/clients/ or a path to a .yml")
    rep.add_argument("--renderer", choices=["quarto", "nbconvert"], default=None,
                     help="force a renderer (default: quarto if on PATH, else nbconvert)")
    rep.set_defaults(func=_cmd_report)

    sim = sub.add_parser("simulate", help="simulate a survey from the default ground truth")
    sim.add_argument("--n", type=int, default=600)
    sim.add_argument("--seed", type=int, default=20261123)
    sim.add_argument("--careless-share", type=float, default=0.08)
    sim.add_argument("--missing-share", type=float, default=0.01)
    sim.add_argument("--instrument", default=None, help="instrument YAML (default survey/instrument.yaml)")
    sim.add_argument("--out", type=Path, default=Path("data/simulated/cli"))
    sim.set_defaults(func=_cmd_simulate)

    fit = sub.add_parser("fit", help="fit a lavaan-syntax model to a data file")
    fit.add_argument("--data", type=Path, required=True, help="CSV, Excel, Parquet or SPSS .sav")
    fit.add_argument("--model", type=Path, required=True, help="file with lavaan-style model syntax")
    fit.add_argument("--out", type=Path, required=True, help="output folder")
    fit.add_argument("--estimator", default=None, type=str.upper, choices=["ML", "MLR", "WLSMV", "DWLS"],
                     help="ML (default), MLR (robust), WLSMV/DWLS (ordinal; the default with --ordered)")
    fit.add_argument("--group", default=None, help="column with group labels (multigroup model)")
    fit.add_argument("--group-equal", default="", metavar="LIST",
                     help="equality constraints across groups, e.g. loadings,intercepts")
    fit.add_argument("--ordered", default=None, metavar="COLS|all", help="ordinal indicators: comma list or 'all'")
    fit.add_argument("--missing", default="listwise", choices=["listwise", "fiml", "pairwise"],
                     help="listwise (default), fiml (continuous), pairwise (ordinal)")
    fit.add_argument("--modindices", action="store_true", help="also write modindices.csv (ML models)")
    fit.add_argument("--bootstrap", type=int, default=0,
                     help="bootstrap draws for defined parameters (:=) and --effect pairs (0 = none)")
    fit.add_argument("--effect", action="append", default=[], metavar="CAUSE:OUTCOME",
                     help="effect to bootstrap, e.g. ESQ:LOY (repeatable)")
    fit.add_argument("--seed", type=int, default=1)
    fit.add_argument("--jobs", type=int, default=2)
    fit.set_defaults(func=_cmd_fit)

    inv = sub.add_parser("invariance", help="measurement invariance across groups (configural ... strict)")
    inv.add_argument("--data", type=Path, required=True)
    inv.add_argument("--model", type=Path, required=True, help="measurement model in lavaan syntax")
    inv.add_argument("--group", required=True, help="column with group labels")
    inv.add_argument("--missing", default="listwise", choices=["listwise", "fiml"])
    inv.add_argument("--out", type=Path, required=True, help="output folder (invariance.csv, invariance.txt)")
    inv.set_defaults(func=_cmd_invariance)

    survey = sub.add_parser("survey", help="survey instrument documents")
    survey_sub = survey.add_subparsers(dest="survey_command", required=True)
    export = survey_sub.add_parser("export", help="codebook (CSV, Markdown) and questionnaires (MD, HTML)")
    export.add_argument("--instrument", default=None)
    export.add_argument("--out", type=Path, default=Path("reports/_output/survey"))
    export.set_defaults(func=_cmd_survey)
    xls = survey_sub.add_parser("xlsform", help="the questionnaire as an XLSForm for KoboToolbox / ODK")
    xls.add_argument("--instrument", default=None)
    xls.add_argument("--out", type=Path, required=True, help="the .xlsx to write")
    xls.add_argument("--force", action="store_true", help="replace --out if it exists")
    xls.set_defaults(func=_cmd_xlsform)
    kobo = survey_sub.add_parser("kobo-example", help="a simulated KoboToolbox export of that form")
    kobo.add_argument("--instrument", default=None)
    kobo.add_argument("--out", type=Path, required=True, help="the .csv (';'-separated) or .xlsx to write")
    kobo.add_argument("--n", type=int, default=400, help="respondents (>= 50)")
    kobo.add_argument("--seed", type=int, default=20240601)
    kobo.add_argument("--language", default="zh-Hant", help="language the respondents answered in")
    kobo.add_argument("--labels", action="store_true",
                      help="question labels as headers and answer labels as cells (default: XML names and values)")
    kobo.add_argument("--force", action="store_true", help="replace --out if it exists")
    kobo.set_defaults(func=_cmd_kobo_example)

    power = sub.add_parser("power", help="Monte Carlo power and sample size for a client's model and design")
    power.add_argument("--client", default="default", help="profile name or path (its 'power' section)")
    power.add_argument("--n", default=None, metavar="LIST", help="sample sizes, e.g. 200,300,500,800")
    power.add_argument("--reps", type=int, default=None, help="replications per sample size (default: profile)")
    power.add_argument("--out", type=Path, required=True, help="output folder (power.csv, minimum_n.csv, ...)")
    power.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: all cores)")
    power.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a LocalCluster)")
    power.set_defaults(func=_cmd_power)

    batch = sub.add_parser("batch", help="render many clients' reports in parallel on Dask (skips unchanged)")
    batch.add_argument("--clients", default=None, metavar="A,B,C",
                       help="profile names in reports/clients/ (default: every profile there)")
    batch.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: all cores)")
    batch.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: a LocalCluster)")
    batch.add_argument("--force", action="store_true", help="rebuild reports whose inputs and code are unchanged")
    batch.add_argument("--out-summary", type=Path, default=None, metavar="DIR",
                       help="where summary.csv and manifest.json go (default: reports/_output/_batch)")
    batch.set_defaults(func=_cmd_batch)

    prof = sub.add_parser("profile", help="validate a client profile and show its notebook parameters")
    prof.add_argument("client", nargs="?", default="default")
    prof.set_defaults(func=_cmd_profile)

    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except WorkbenchError as exc:
        # one line of at most 300 characters, whatever the message: its start names the file or key
        print(one_line(f"error: {exc}", MESSAGE_LIMIT), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; no partial output was published", file=sys.stderr)
        return 130

