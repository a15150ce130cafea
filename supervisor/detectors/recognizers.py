"""Presidio recognizers for identifiers that regulated users meet and Presidio lacks.

Each identifier is found only where it cannot be confused with an ordinary number: by a
checksum (NPI's Luhn with the 80840 prefix, DEA's weighted sum, ABA's 3-7-1 sum), by the
words around it (MRN, account, routing), or both. The span reported is the number alone,
never the label before it, so redaction keeps the sentence readable ("MRN <MEDICAL_...>").
Also here: an email recognizer whose domain check uses tldextract's bundled suffix list,
because the stock one may try to download the list at run time, and nothing may here; and
Presidio's phone recognizer behind a gate that skips texts where no phone number can be.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import tldextract
from presidio_analyzer import (
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.nlp_engine import NlpArtifacts
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

# offline: no suffix-list URLs, no cache directory, the snapshot shipped in the package
_OFFLINE_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                     fallback_to_snapshot=True)


def luhn_ok(digits: str) -> bool:
    """The Luhn mod-10 check used by card numbers and (with a prefix) NPIs."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def npi_ok(number: str) -> bool:
    """CMS: an NPI is valid when '80840' + its 10 digits passes the Luhn check."""
    return len(number) == 10 and number[0] in "12" and luhn_ok("80840" + number)


def dea_ok(number: str) -> bool:
    """DEA: (d1+d3+d5) + 2*(d2+d4+d6) ends in the seventh digit."""
    d = [int(c) for c in number[2:]]
    return len(d) == 7 and ((d[0] + d[2] + d[4]) + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


def aba_ok(number: str) -> bool:
    """ABA routing: 3*(d1+d4+d7) + 7*(d2+d5+d8) + (d3+d6+d9) is a multiple of ten."""
    d = [int(c) for c in number]
    return len(d) == 9 and (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7])
                            + (d[2] + d[5] + d[8])) % 10 == 0


def ssn_ok(digits: str) -> bool:
    """A number the SSA could have issued: area not 000, 666 or 9xx; group not 00; serial
    not 0000; not one digit repeated (Presidio's rules, without its list of samples)."""
    return (len(digits) == 9 and digits[:3] not in ("000", "666") and digits[0] != "9"
            and digits[3:5] != "00" and digits[5:] != "0000" and len(set(digits)) > 1)


class LabelledNumberRecognizer(EntityRecognizer):
    """An identifier that follows its label: the regex's `value` group is the finding."""

    def __init__(self, entity: str, expression: str, score: float,
                 check: Callable[[str], bool] | None = None) -> None:
        self._pattern = re.compile(expression, re.IGNORECASE)
        self._score = score
        self._check = check
        super().__init__(supported_entities=[entity], name=f"{entity.title()}Recognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: the expression is compiled in the constructor."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        found = []
        for match in self._pattern.finditer(text):
            value = match.group("value")
            digits = re.sub(r"\D", "", value)
            if self._check is not None and not self._check(digits):
                continue
            found.append(RecognizerResult(self.supported_entities[0], match.start("value"),
                                          match.end("value"), self._score))
        return found


class OfflineEmailRecognizer(PatternRecognizer):
    """Presidio's email pattern, with the domain checked against the bundled suffix list."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="EMAIL_ADDRESS", name="OfflineEmailRecognizer",
            patterns=[Pattern("email", r"\b((([!#$%&'*+\-/=?^_`{|}~\w])|([!#$%&'*+\-/=?^_`{|}~\w][!#$%&'*+\-/=?^_`{|}~\.\w]{0,}[!#$%&'*+\-/=?^_`{|}~\w]))[@]\w+([-.]\w+)*\.\w+([-.]\w+)*)\b", 0.5)],  # noqa: E501 (one expression)
            context=["email", "e-mail", "mail", "address"])

    def validate_result(self, pattern_text: str) -> bool:
        return _OFFLINE_TLD(pattern_text.rpartition("@")[2]).suffix != ""


# what people put between the digits of a number: one or two spaces, or a dash, dot or
# slash with a space either side or not ("4111 1111", "4111  1111", "4111 - 1111", "4111.1111")
SEP = r"(?:[ ]{1,2}|[ ]?[-./][ ]?)"


class CardNumberRecognizer(PatternRecognizer):
    """12 to 19 digits on the card networks' leading digits (1 to 6), Luhn-checked.

    Presidio's own card pattern misses 19-digit Visa, 12-digit Maestro and 2-series
    Mastercard numbers; with the Luhn check a random digit string passes one time in ten,
    so the prefix and length limits keep order and reference numbers out. The digits may
    be separated in any way `SEP` allows, and the whole run is taken, so a card written
    "4111.1111.1111.1111" or "4 1 1 1 - 1 1 1 1 ..." is found, and one digit run is never
    cut into a card and a remainder.
    """

    def __init__(self) -> None:
        super().__init__(
            supported_entity="CREDIT_CARD", name="CardNumberRecognizer",
            patterns=[Pattern("card", r"(?<![\d.+-])[1-6](?:" + SEP + r"?\d){11,18}"
                              r"(?!" + SEP + r"?\d)", 0.3)],
            context=["card", "credit", "debit", "visa", "mastercard", "amex", "maestro",
                     "payment"])

    def validate_result(self, pattern_text: str) -> bool:
        return luhn_ok(re.sub(r"\D", "", pattern_text))


# a phone number: optional +country code, optional (area) code, digits separated in any
# way `SEP` allows (spaced digits too), extension
_PHONE = re.compile(
    r"(?<![\w+.-])(?P<value>(?:\+[ ]?\d(?:[ ]?\d){0,2}" + SEP + r"?)?"
    r"(?:\((?:[ ]?\d){1,4}[ ]?\)" + SEP + r"?)?\d(?:" + SEP + r"?\d){5,16}"
    r"(?:[ ]?(?:x|ext\.?[ ]?)\d{1,5})?)(?![\w@]|[.-]\d)")
_SQUEEZE = re.compile(r"[ ]*([-./])[ ]*|[ ]{2,}")
# words that say a number is a phone number: before it (within a few words, one line
# break allowed: "Phone:\n0393 1144137") or right after
_PHONE_BEFORE = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|cellphone|fax|desk|office|call|calling|text|"
    r"txt|sms|messages?|whatsapp|reach|contact|ring|dial|answering at|number)\b"
    r"(?:[^\d\n]|\n(?!\s*\n)){0,24}$",
    re.IGNORECASE)
_PHONE_AFTER = re.compile(r"^\s?[-(]?\s?(?:office|fax|mobile|cell|home|work|desk)\b",
                          re.IGNORECASE)
# formats that are phone numbers without a word saying so
_PHONE_SHAPES = (
    re.compile(r"\+\d{1,3}[ .-]?(?:\(0\)\s?)?\d[\d .-]{6,16}\d(?:\s?x\d{1,5})?"),  # +44 ...
    re.compile(r"(?:001-)?(?:\(\d{3}\)\s?|\d{3}[-.])\d{3}[-.]\d{4}(?:x\d{1,5})?"),  # NANP
    re.compile(r"0\d(?:[ .]\d{2}){4}"),  # French and Belgian style: 01 84 17 61 18
)


class CuedPhoneRecognizer(EntityRecognizer):
    """Phone numbers in national and international formats, with or without separators.

    Presidio's own recognizer (libphonenumber for a few regions) misses most non-US
    formats. A digit run of 7 to 15 digits is a phone number here when a word around it
    says so ("Phone:", "call me on", "fax", "-Office") or when its shape alone does
    (+country code, North American 555-123-4567, French 01 84 17 61 18). Dates, card and
    social security numbers are left to their own recognizers: a card number's shape
    has no cue and no phone shape, and the overlap rule in `pii` keeps the specific type.
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE_NUMBER"], name="CuedPhoneRecognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: the expressions are compiled at import."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        found = []
        for match in _PHONE.finditer(text):
            value = match.group("value").rstrip(" .-")
            digits = re.sub(r"\D", "", value.split("x")[0])
            if not 7 <= len(digits) <= 15:
                continue
            start = match.start("value")
            cued = (_PHONE_BEFORE.search(text[max(0, start - 40):start]) is not None
                    or _PHONE_AFTER.match(text[start + len(value):start + len(value) + 12])
                    is not None)
            squeezed = _SQUEEZE.sub(lambda m: m.group(1) or " ", value)
            shaped = any(shape.fullmatch(squeezed) for shape in _PHONE_SHAPES)
            if cued or shaped:
                found.append(RecognizerResult("PHONE_NUMBER", start, start + len(value),
                                              0.7 if cued else 0.6))
        return found


# What libphonenumber's matcher reads into one candidate number: digits, its punctuation
# (dashes, dots, slashes, brackets, tildes, "x", spaces of several kinds) and plus signs.
PHONE_RUN_CHARS = ("\\d\\-xX\u2010-\u2015\u2212\u30fc\uff0d-\uff0f \xa0\xad\u200b\u2060\u3000"
                   "()\uff08\uff09\uff3b\uff3d.\\[\\]/~\u2053\u223c\uff5e+\uff0b")
# The shortest national number libphonenumber calls valid anywhere (Germany, Austria and a
# few others allow 4 digits); a number has at least that many digits, or letters read as
# digits, and the only letter its matcher lets into a candidate is "x".
FEWEST_PHONE_DIGITS = 4
_PHONE_GATE = re.compile(r"[\dxX](?:[" + PHONE_RUN_CHARS + r"]*?[\dxX]){"
                         + str(FEWEST_PHONE_DIGITS - 1) + "}")


def could_hold_phone_number(text: str) -> bool:
    """Whether `text` has a run of candidate characters with FEWEST_PHONE_DIGITS digits in
    it: without one, libphonenumber finds no valid number in any region."""
    return _PHONE_GATE.search(text) is not None


class GatedPhoneRecognizer(PhoneRecognizer):
    """Presidio's PhoneRecognizer (libphonenumber over several regions), run only on a
    text that `could_hold_phone_number`: the same results, and no cost on the many texts
    without a number long enough. libphonenumber parses every candidate once per region,
    which made it most of a redaction's recognizer time."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        if not could_hold_phone_number(text):
            return []
        # Presidio annotates the artifacts as required, though its default is None
        return list(super().analyze(text, entities, nlp_artifacts))  # type: ignore[arg-type]


def gate_phone_numbers(registry: RecognizerRegistry) -> None:
    """Put a GatedPhoneRecognizer, configured alike, in place of each of Presidio's own
    PhoneRecognizers in `registry` (same place, so the order of results is kept)."""
    recognizers = list(registry.recognizers)
    for index, recognizer in enumerate(recognizers):
        if type(recognizer) is PhoneRecognizer:
            recognizers[index] = GatedPhoneRecognizer(
                context=recognizer.context, supported_language=recognizer.supported_language,
                supported_entity=recognizer.supported_entities[0],
                supported_regions=recognizer.supported_regions,
                leniency=recognizer.leniency,
                name=str(getattr(recognizer, "name", PhoneRecognizer.__name__)))
    registry.recognizers = recognizers


# IBAN length per country (ISO 13616 registry): the only length tried for a country code
_IBAN_LENGTHS = (
    "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 "
    "DO28 EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 "
    "IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 "
    "MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 "
    "ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20")
IBAN_LENGTHS = {c[:2]: int(c[2:]) for c in _IBAN_LENGTHS.split()}


def iban_ok(code: str) -> bool:
    """ISO 13616: a country code, two check digits, the country's length in letters and
    digits, and the number made by moving the first four to the end (letters as 10 to
    35) is 1 mod 97."""
    if not (IBAN_LENGTHS.get(code[:2]) == len(code) and code[2:4].isdigit()
            and code.isalnum() and code.isascii()):
        return False
    moved = code[4:] + code[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}[ ]?\d" + SEP + r"?\d")
_IBAN_NEXT = re.compile(SEP + r"?[A-Za-z0-9]")


class LooseIbanRecognizer(EntityRecognizer):
    """IBANs however they are spaced or dashed ("GB59 IFUE 4022...", "GB59.NAWV.7713...",
    lower case), found by the ISO 13616 mod-97 check rather than by one layout.

    From each country code and check digits, the letters and digits that follow (with
    separators between them) are read up to the country's IBAN length, and the run is
    reported when its compact form passes `iban_ok`: a word after the number is not
    swallowed, and a random string passes one time in 97 at most.
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=["IBAN_CODE"], name="LooseIbanRecognizer",
                         supported_language="en")

    def load(self) -> None:
        """Nothing to load: the expressions are compiled at import."""

    def analyze(self, text: str, entities: list[str],
                nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        found = []
        for start in _IBAN_START.finditer(text):
            wanted = IBAN_LENGTHS.get(start.group()[:2].upper())
            if wanted is None:
                continue
            cursor, taken = start.end(), 4  # country code and check digits
            while taken < wanted and (step := _IBAN_NEXT.match(text, cursor)) is not None:
                cursor, taken = step.end(), taken + 1
            compact = re.sub(r"[^A-Za-z0-9]", "", text[start.start():cursor]).upper()
            if iban_ok(compact):
                found.append(RecognizerResult("IBAN_CODE", start.start(), cursor, 0.8))
        return found


class StreetAddressRecognizer(PatternRecognizer):
    """A street address as LOCATION: a house number, one to four capitalised words and a
    street word ("12 Elm Street", "3744 Retreat Avenue, Apt. 5"). spaCy's small model
    tags these FAC, which Presidio does not map, so without this they stay in a record;
    HIPAA's Safe Harbor lists street addresses among the identifiers."""

    def __init__(self) -> None:
        super().__init__(
            supported_entity="LOCATION", name="StreetAddressRecognizer",
            patterns=[Pattern("street", r"\b\d{1,6}[A-Za-z]?,?[ ]+(?:[A-Z][\w'’.-]*[ ]+){1,4}"
                              r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|"
                              r"Blvd|Court|Ct|Way|Place|Pl|Terrace|Parkway|Square|Highway|"
                              r"Route)\b\.?(?:,?[ ]+(?:Apt|Suite|Unit|#)\.?[ ]*\d+\w?)?",
                              0.6)])


# an SSN written to get past the usual shapes: its digits spaced out
# ("5 3 6 - 2 2 - 8 1 9 3") or its groups split by "/" ("536/22/8193"). Dash, space and
# digit look-alikes are already plain (see `normal`). Not inside a longer run of digits,
# spaced or not, nor inside a path or a date.
SPACED_SSN = (r"(?<![\w/.-])(?<!\d )(?P<value>\d(?: ?\d){2}(?: ?[-/.] ?| )\d ?\d"
              r"(?: ?[-/.] ?| )\d(?: ?\d){3})(?! ?\d)(?![\w/-]|\.\d)")
# digits of a labelled number, a space allowed between any two ("0 0 4 8 2 9 1 3")
_SPACED = r"\d(?: ?\d)"


def custom_recognizers() -> list[EntityRecognizer]:
    """The project's recognizers, added to Presidio's registry at start-up."""
    from supervisor.detectors.names import CuedNameRecognizer

    return [
        CardNumberRecognizer(),
        CuedPhoneRecognizer(),
        LooseIbanRecognizer(),
        StreetAddressRecognizer(),
        CuedNameRecognizer(),
        LabelledNumberRecognizer(
            "MEDICAL_RECORD_NUMBER",
            r"\b(?:MRN|medical\s+record(?:\s+(?:number|no\.?|#))?|chart\s+(?:number|no\.?|#)"
            r"|patient\s+id)\s*[:#]?\s*(?P<value>[A-Z]{0,3}-?" + _SPACED + r"{4,11})\b", 0.85),
        LabelledNumberRecognizer(
            "NPI", r"\b(?:NPI|national\s+provider\s+identifier)(?:\s+(?:number|no\.?|#))?"
                   r"\s*[:#]?\s*(?P<value>" + _SPACED + r"{9})\b", 0.9, npi_ok),
        LabelledNumberRecognizer(
            "NPI", r"(?<![\d-])(?P<value>[12]\d{9})(?![\d-])", 0.3, npi_ok),
        # Presidio drops SSNs it knows as samples (123-45-6789, 078-05-1120); one written
        # next to its label is still somebody's number to keep out of answers and records
        LabelledNumberRecognizer(
            "US_SSN", r"\b(?:SSN|social\s+security(?:\s+(?:number|no\.?|#))?)\s*(?:is\s+)?"
                      r"[:#]?\s*(?P<value>" + _SPACED + r"{2} ?[-/. ]? ?" + _SPACED
                      + r" ?[-/. ]? ?" + _SPACED + r"{3})\b", 0.85, ssn_ok),
        LabelledNumberRecognizer("US_SSN", SPACED_SSN, 0.5, ssn_ok),
        LabelledNumberRecognizer(
            "DEA_NUMBER", r"\b(?P<value>[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7})\b", 0.75, dea_ok),
        LabelledNumberRecognizer(
            "ABA_ROUTING_NUMBER", r"\b(?:routing|ABA|RTN)(?:\s+(?:transit\s+)?(?:number|no\.?"
                                  r"|#))?\s*[:#]?\s*(?P<value>" + _SPACED + r"{8})\b", 0.85,
            aba_ok),
        LabelledNumberRecognizer(
            "ACCOUNT_NUMBER", r"\b(?:account|acct)\.?(?:\s+(?:number|no\.?|#))?\s*"
                              r"(?:ending\s+in\s+)?[:#]?\s*(?P<value>\d[\d-]{4,18}\d)\b", 0.8),
    ]
