"""Embedded corpora rendered from the CLDR data that `babel` ships: no download needed.

The same random values (a date, an amount, a unit count, a territory...) are rendered in
several locales, which gives parallel pairs, language-labelled phrases and field-tagged
tokens. Non-breaking spaces are rendered as plain spaces.
"""

import datetime
import functools
import random
import re

from babel import Locale, UnknownLocaleError, dates, numbers, units

from tf_transformer.errors import InputError

TAGS = ("O", "WEEKDAY", "DAY", "MONTH", "YEAR", "NUMBER", "CURRENCY", "UNIT")
LANGID_LOCALES = ("en", "pt", "de", "fr", "es", "it", "nl", "sv", "pl", "tr", "fi", "cs")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "BRL", "CHF", "CNY", "INR", "CAD", "AUD", "MXN")
UNITS = (
    "length-kilometer",
    "length-meter",
    "length-centimeter",
    "mass-kilogram",
    "mass-gram",
    "duration-hour",
    "duration-minute",
    "duration-second",
    "duration-day",
    "duration-week",
    "duration-month",
    "duration-year",
    "volume-liter",
    "temperature-celsius",
    "speed-kilometer-per-hour",
    "digital-megabyte",
    "digital-gigabyte",
    "area-square-meter",
)
_FIELD_TAGS = {"E": "WEEKDAY", "c": "WEEKDAY", "d": "DAY", "M": "MONTH", "L": "MONTH"}
_FIELD_TAGS.update({"y": "YEAR", "Y": "YEAR", "u": "YEAR"})
_NUMBER = re.compile(r"\d(?:[\d.,' ]*\d)?")
_SPACES = re.compile(r"[\u00a0\u202f\u2009]")


def locale(code: str) -> Locale:
    """A babel `Locale` for `code` (`pt`, `pt_BR`, `pt-BR`), or an `InputError`."""
    try:
        return Locale.parse(code.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise InputError(f"unknown CLDR locale {code!r}") from None


def _plain(text):
    return _SPACES.sub(" ", text)


def _number_and_rest(text, rest_tag):
    """Segments of `text` with its number tagged NUMBER and the rest `rest_tag`."""
    match = _NUMBER.search(text)
    if match is None:
        return [(text, rest_tag)]
    return [
        (text[: match.start()], rest_tag),
        (match.group(), "NUMBER"),
        (text[match.end() :], rest_tag),
    ]


# One renderer a phrase kind: (random values) -> (locale -> segments [(text, tag)]).
def _date(rng):
    day = datetime.date(1900, 1, 1) + datetime.timedelta(days=rng.randrange(73049))
    width = rng.choice(("full", "long", "medium"))

    def render(loc):
        pattern = dates.get_date_format(width, locale=loc)
        values = dates.DateTimeFormat(day, loc)
        parts = re.split(r"%\((\w+)\)s", pattern.format)
        segments = []
        for i, part in enumerate(parts):
            if i % 2:
                segments.append((values[part], _FIELD_TAGS.get(part[0], "O")))
            else:
                segments.append((part.replace("%%", "%"), "O"))
        return segments

    return render


def _time(rng):
    moment = datetime.time(rng.randrange(24), rng.randrange(60), rng.randrange(60))
    width = rng.choice(("short", "medium"))
    return lambda loc: [(dates.format_time(moment, width, locale=loc), "O")]


def _number(rng):
    value = rng.choice(
        (rng.randrange(1000), rng.randrange(1000, 10**7), round(rng.uniform(0, 10**4), 2))
    )
    return lambda loc: [(numbers.format_decimal(value, locale=loc), "NUMBER")]


def _amount(rng):
    value = rng.choice((rng.randrange(1, 100), round(rng.uniform(0, 10**5), 2)))
    currency = rng.choice(CURRENCIES)
    kind = rng.choice(("standard", "name"))

    def render(loc):
        text = numbers.format_currency(value, currency, locale=loc, format_type=kind)
        return _number_and_rest(_plain(text), "CURRENCY")

    return render


def _unit(rng):
    value = rng.choice(
        (1, 2, rng.randrange(3, 100), rng.randrange(100, 10**4), rng.randrange(1, 1000) / 10)
    )
    unit = rng.choice(UNITS)
    width = rng.choice(("long", "long", "short"))

    def render(loc):
        text = units.format_unit(value, unit, length=width, locale=loc)
        return _number_and_rest(_plain(text), "UNIT")

    return render


def _name(rng, codes):
    kind = rng.choice(("territories", "languages", "currencies", "display"))
    if kind == "display":
        identifier = rng.choice(codes["display"])
        return lambda loc: [(Locale.parse(identifier).get_display_name(loc), "O")]
    code = rng.choice(codes[kind])
    return lambda loc: [(getattr(loc, kind)[code], "O")]


def _name_codes(locales):
    """Territory, language and currency codes every locale names, and locale identifiers."""
    codes = {}
    for kind in ("territories", "languages", "currencies"):
        common = set.intersection(*(set(getattr(loc, kind)) for loc in locales))
        codes[kind] = sorted(common)
    territories = ("US", "GB", "BR", "PT", "ES", "MX", "FR", "CA", "DE", "AT", "CH", "EG", "CN")
    display = [
        f"{lang}_{terr}"
        for lang in ("en", "pt", "es", "fr", "de", "ar", "zh")
        for terr in territories
    ]
    codes["display"] = [identifier for identifier in display if _is_locale(identifier)]
    return codes


def _is_locale(identifier):
    try:
        Locale.parse(identifier)
        return True
    except (UnknownLocaleError, ValueError):
        return False


_KINDS = {"date": _date, "time": _time, "number": _number, "amount": _amount, "unit": _unit}


def render_phrases(locales, count, seed, weights, codes=None):
    """Yields `count` tuples of segment lists, one per locale, for random phrases."""
    rng = random.Random(seed)
    kinds, shares = list(weights), list(weights.values())
    for _ in range(count):
        kind = rng.choices(kinds, weights=shares)[0]
        render = _name(rng, codes) if kind == "name" else _KINDS[kind](rng)
        yield tuple(_clean(render(loc)) for loc in locales)


def _clean(segments):
    return [(_plain(text), tag) for text, tag in segments if text]


def text_of(segments):
    return " ".join("".join(text for text, _ in segments).split())


def tokens_and_tags(segments):
    """Whitespace tokens of the segments, each with its segment's tag; no token spans two."""
    tokens, tags = [], []
    for text, tag in segments:
        for token in text.split():
            tokens.append(token)
            tags.append(tag)
    return tokens, tags


TRANSLATION_WEIGHTS = {"date": 35, "time": 8, "number": 10, "amount": 17, "unit": 22, "name": 8}
LANGID_WEIGHTS = {"date": 55, "amount": 15, "unit": 25, "name": 5}
TAGGING_WEIGHTS = {"date": 50, "amount": 25, "unit": 25}


@functools.lru_cache(maxsize=8)
def parallel_pairs(source, target, size=60000, seed=0):
    """Up to `size` (source, target) phrase pairs rendered in two locales.

    Sources are distinct: where two renderings coincide in the source locale but not in
    the target (English "May 22" is both the long and the medium date), the first target
    is kept, so that no source has two correct translations.
    """
    locales = (locale(source), locale(target))
    codes = _name_codes(locales)
    pairs = {}
    for src, tgt in render_phrases(locales, int(size * 1.5), seed, TRANSLATION_WEIGHTS, codes):
        pairs.setdefault(text_of(src), text_of(tgt))
        if len(pairs) >= size:
            break
    return tuple(pairs.items())


@functools.lru_cache(maxsize=8)
def langid_examples(size=24000, seed=0, languages=LANGID_LOCALES):
    """(phrase, language) examples. A phrase spelled the same in two languages is dropped,
    whether in another language's rendering of the same phrase or in another example."""
    locales = tuple(locale(code) for code in languages)
    codes = _name_codes(locales)
    rng = random.Random(seed)
    labels = {}
    for rendered in render_phrases(locales, size * 3, seed, LANGID_WEIGHTS, codes):
        code = rng.randrange(len(languages))
        texts = [text_of(segments) for segments in rendered]
        text = texts[code]
        if texts.count(text) > 1:  # "21 nov 2011": the same in several of the languages
            continue
        labels.setdefault(text, set()).add(languages[code])
        if len(labels) >= size:
            break
    return tuple((text, min(langs)) for text, langs in labels.items() if len(langs) == 1)


@functools.lru_cache(maxsize=8)
def tagging_examples(size=20000, seed=0, languages=("en", "pt", "de", "fr", "es")):
    """(tokens, tags) examples of dates, amounts and units in several languages."""
    locales = tuple(locale(code) for code in languages)
    rng = random.Random(seed)
    seen = {}
    for rendered in render_phrases(locales, size * 2, seed, TAGGING_WEIGHTS):
        tokens, tags = tokens_and_tags(rendered[rng.randrange(len(locales))])
        seen.setdefault(tuple(tokens), tuple(tags))
        if len(seen) >= size:
            break
    return tuple(seen.items())
