"""The report's words: narrative, glossary and references in the report's language.

Every paragraph and heading of the study report lives in the message catalog
(``analysis/i18n/catalog/narrative.yaml``), English, Simplified and Traditional Chinese
side by side, so the notebook holds no prose and there is one source for all three
languages. The notebook calls :func:`say` with a catalog key; :func:`say` fills in the
values every narrative may quote (the profile's thresholds, the bootstrap draws, the
confidence level, the client's name, formatted for the language, see
:func:`narrative_values`) so that a threshold quoted in the text always is the one the
analysis used. :func:`phrase` returns such a text without displaying it, and :func:`join`
lists items the way the language does ("a, b" or "a、b"). :func:`glossary` and
:func:`references` build the two reference sections of the appendix from the catalog
(``construct.<CODE>`` and ``reference.<short>`` keys).

Nothing falls back to English: a key or a language missing from the catalog raises
:class:`~analysis.i18n.MissingTranslation`.
"""

from __future__ import annotations

import numbers
import re

from analysis.i18n import catalog, format_integer, format_number, format_percent, text
from analysis.measurement import ValidityThresholds
from analysis.screening.rules import ScreeningThresholds
from analysis.sem.invariance import CHEN_DELTA_CFI, CHEN_DELTA_RMSEA

__all__ = ["Said", "narrative_values", "phrase", "say", "join", "glossary", "glossary_codes", "references",
           "REFERENCE_PREFIX", "VIF_THRESHOLD"]

#: Catalog keys of the reference list start with this.
REFERENCE_PREFIX = "reference."
#: Full-collinearity VIF cut-off quoted by the narrative (Kock 2015; the default of
#: :func:`analysis.measurement.method_bias.full_collinearity_vif`).
VIF_THRESHOLD = 3.3
#: The second-order factor of the structural model: not an instrument construct, but
#: named throughout the report, so the glossary lists it first.
_MODEL_ONLY_CODES = ("ESQ",)


class Said(str):
    """A text that :func:`say` has already displayed.

    It is an ordinary string, except that IPython does not echo it a second time when a
    notebook cell ends with ``say(...)``.
    """

    __slots__ = ()

    def _ipython_display_(self) -> None:  # the text was displayed once, by say()
        return None


def narrative_values(ctx) -> dict[str, str]:
    """The values every narrative text may quote, formatted for ``ctx.language``.

    Parameters
    ----------
    ctx : analysis.study.context.StudyContext
        The report run; its settings supply the thresholds and the analysis options.

    Returns
    -------
    dict of str to str
        ``cfi``, ``tli``, ``rmsea``, ``srmr``, ``alpha``, ``ave``, ``htmt`` (the profile's
        thresholds), ``htmt_close``, ``loading``, ``cr_max`` (validity guidelines),
        ``draws`` (bootstrap resamples), ``ci_level`` (as a percentage), ``seed``,
        ``client``, ``title``, ``author``, the careless-response rules (``seconds_per_item``,
        ``median_fraction``, ``longstring_run``, ``mahalanobis_p``, ``even_odd_min``,
        ``flag_failures``, ``exclude_failures``), the invariance cut-offs (``delta_cfi``,
        ``delta_rmsea``), ``vif`` and the behaviour settings (``churn_weeks``,
        ``clv_weeks``, ``discount_rate``, ``months``, ``n_customers``).
    """
    lang = ctx.language
    s = ctx.settings
    t = s.thresholds
    guide = ValidityThresholds()
    rules = ScreeningThresholds()

    def bounded(value: float, digits: int = 2) -> str:
        return format_number(value, lang, digits, bounded=True)

    values = {
        "cfi": bounded(t.cfi), "tli": bounded(t.tli), "rmsea": bounded(t.rmsea), "srmr": bounded(t.srmr),
        "alpha": bounded(t.alpha), "ave": bounded(t.ave), "htmt": bounded(t.htmt),
        "htmt_close": bounded(guide.htmt_close), "loading": bounded(guide.loading, 3),
        "cr_max": bounded(guide.cr_max),
        "draws": format_integer(s.analysis.bootstrap_draws, lang),
        "ci_level": format_percent(s.analysis.ci_level, lang, 0 if round(s.analysis.ci_level * 100, 6).is_integer()
                                   else 1),
        "seed": str(s.analysis.seed),
        "client": s.client.name, "title": s.report.title, "author": s.report.author or "",
        "seconds_per_item": format_number(rules.seconds_per_item, lang, 0),
        "median_fraction": format_number(rules.median_fraction, lang, 1),
        "longstring_run": format_integer(rules.longstring_run, lang),
        "mahalanobis_p": bounded(rules.mahalanobis_alpha, 3),
        "even_odd_min": bounded(rules.even_odd_min),
        "flag_failures": format_integer(rules.instructed_flag_failures, lang),
        "exclude_failures": format_integer(rules.instructed_exclude_failures, lang),
        "delta_cfi": bounded(abs(CHEN_DELTA_CFI), 3), "delta_rmsea": bounded(CHEN_DELTA_RMSEA, 3),
        "vif": format_number(VIF_THRESHOLD, lang, 1),
    }
    b = s.behaviour
    values.update({"churn_weeks": format_integer(b.churn_window_weeks, lang),
                   "clv_weeks": format_integer(b.clv_horizon_weeks, lang),
                   "discount_rate": format_percent(b.discount_rate, lang),
                   "months": format_integer(b.months, lang),
                   "n_customers": format_integer(b.n_customers, lang)})
    return values


def phrase(ctx, key: str, /, **values) -> str:
    """The catalog text ``key`` in the report language, without displaying it.

    Parameters
    ----------
    ctx : analysis.study.context.StudyContext
        The report run (language and settings).
    key : str
        Catalog key, e.g. ``"narrative.measurement.sample"``.
    **values
        Values of the text's format fields beyond :func:`narrative_values` (they win on
        a name clash). Integers are written with the language's digit grouping; format
        other numbers with :mod:`analysis.i18n` before passing them.

    Returns
    -------
    str
        The filled-in text.
    """
    given = {name: format_integer(value, ctx.language)
             if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
             for name, value in values.items()}
    return text(key, ctx.language, **{**narrative_values(ctx), **given})


def say(ctx, key: str, /, **values) -> Said:
    """Display the catalog text ``key`` as Markdown in the report language and return it.

    Parameters
    ----------
    ctx : analysis.study.context.StudyContext
        The report run (language and settings).
    key : str
        Catalog key, e.g. ``"narrative.measurement.intro"``.
    **values
        Values of the text's format fields beyond :func:`narrative_values` (see
        :func:`phrase`).

    Returns
    -------
    Said
        The displayed text (a ``str``; IPython does not show it a second time).

    Raises
    ------
    analysis.i18n.MissingTranslation
        If the key, or its text in the report language, does not exist.
    """
    shown = Said(phrase(ctx, key, **values))
    try:
        from IPython.display import Markdown, display
    except ImportError:  # plain Python without IPython: the returned text is the output
        return shown
    display(Markdown(shown))
    return shown


def join(ctx, parts) -> str:
    """``parts`` as one list in the report language ("a, b, c" or "a、b、c").

    Parameters
    ----------
    ctx : analysis.study.context.StudyContext
        The report run (its language).
    parts : iterable
        The items, converted with ``str``.

    Returns
    -------
    str
        The items joined with the language's list separator.
    """
    return text("narrative.list_separator", ctx.language).join(str(part) for part in parts)


def glossary_codes(ctx) -> list[str]:
    """The construct codes the glossary explains: the model's second-order factor, then
    every construct of the instrument in questionnaire order."""
    codes = [c.code for c in ctx.instrument.constructs]
    return [code for code in _MODEL_ONLY_CODES if code not in codes] + codes


def _cell(value: str) -> str:
    return " ".join(value.split()).replace("|", "\\|")


def glossary(ctx) -> str:
    """The glossary of construct codes as a Markdown section in the report language.

    Parameters
    ----------
    ctx : analysis.study.context.StudyContext
        The report run; every construct of ``ctx.instrument`` (and the second-order factor
        e-service quality) is listed with its name (``construct.<CODE>``) and a one-line
        description (``construct.<CODE>.description``).

    Returns
    -------
    str
        Heading, one introductory sentence and a three-column Markdown table.

    Raises
    ------
    analysis.i18n.MissingTranslation
        If a construct of the instrument has no name or description in the catalog.
    """
    lang = ctx.language
    header = [text(f"narrative.glossary.{column}", lang) for column in ("code", "name", "description")]
    lines = [text("narrative.glossary.title", lang), "", text("narrative.glossary.intro", lang), "",
             "| " + " | ".join(header) + " |", "|---|---|---|"]
    for code in glossary_codes(ctx):
        name = text(f"construct.{code}", lang)
        if lang == "en":
            name = name[:1].upper() + name[1:]
        lines.append(f"| {code} | {_cell(name)} | {_cell(text(f'construct.{code}.description', lang))} |")
    return "\n".join(lines)


def _reference_keys() -> list[str]:
    keys = [key for key in catalog() if key.startswith(REFERENCE_PREFIX)]
    # APA: letter by letter on the authors' names, then the year ("Surname, I., & Other, J.
    # (year"); punctuation and "&" do not count, so Fornell, Johnson ... precedes Fornell & Larcker
    return sorted(keys, key=lambda key: re.sub(r"\W", "", str(catalog()[key]["en"]).casefold()))


def references(ctx) -> str:
    """The reference list (APA 7th edition) as a Markdown section.

    The entries are the same in every language, as Chinese journals print works in the
    language they were published in; the heading and the note above the list are in the
    report language.

    Parameters
    ----------
    ctx : analysis.study.context.StudyContext
        The report run (its language).

    Returns
    -------
    str
        Heading, note and one paragraph per work, alphabetical by first author.
    """
    lang = ctx.language
    lines = [text("narrative.references.title", lang), "", text("narrative.references.note", lang), ""]
    for key in _reference_keys():
        lines += [" ".join(text(key, lang).split()), ""]
    return "\n".join(lines).rstrip() + "\n"
