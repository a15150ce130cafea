"""Load, validate and resolve constitutions: YAML files of principles.

A constitution is written by a compliance team, so a mistake in it must be reported in
their terms: the file, the line, the key and what to write instead. YAML is parsed into
a node tree first so every pydantic error can be traced back to the line it came from.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from supervisor.errors import ConstitutionError

SHIPPED_DIR = Path(__file__).resolve().parent / "constitutions"  # package data

PII_ENTITIES = (
    "PERSON", "US_SSN", "PHONE_NUMBER", "EMAIL_ADDRESS", "CREDIT_CARD", "IBAN_CODE",
    "US_BANK_NUMBER", "US_DRIVER_LICENSE", "US_PASSPORT", "US_ITIN", "IP_ADDRESS",
    "DATE_TIME", "LOCATION", "MEDICAL_RECORD_NUMBER", "NPI", "DEA_NUMBER",
    "ABA_ROUTING_NUMBER", "ACCOUNT_NUMBER", "URL", "MEDICAL_LICENSE", "NRP",
)

MODERATION_CATEGORIES = (
    "sexual", "sexual/minors", "hate", "hate/threatening", "harassment",
    "harassment/threatening", "self-harm", "self-harm/intent", "self-harm/instructions",
    "violence", "violence/graphic", "illicit", "illicit/violent",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JudgeCheck(_Strict):
    """Ask the supervisor model. `guidance` is extra text shown to it for this principle."""

    guidance: str = ""


class SemanticCheck(_Strict):
    """Compare the text with the principle's examples by sentence embedding."""

    threshold: float = Field(0.6, ge=0.0, le=1.0)
    on: Literal["output", "exchange"] = "exchange"


class ExchangeCheck(_Strict):
    """Read the prompt and the answer together (see `supervisor.detectors.exchange`).

    At the input stage it fires on a harmful request, at the output stage on substantive
    compliance with one; `threshold` overrides the one fitted with the exchange model.
    """

    threshold: float | None = Field(None, ge=0.0, le=1.0)


class PiiCheck(_Strict):
    """Find identifiers with Presidio (plus the project's recognizers)."""

    entities: tuple[str, ...] = Field(min_length=1)
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    # of `entities`, those that count only where linked to a person's health information
    # (a name with a diagnosis or a visit; see supervisor.detectors.health)
    linked_to_health: tuple[str, ...] = ()

    @field_validator("entities")
    @classmethod
    def _known(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [e for e in value if e not in PII_ENTITIES]
        if unknown:
            raise ValueError(
                f"unknown entity {', '.join(unknown)}; use one of {', '.join(PII_ENTITIES)}"
            )
        return value

    @model_validator(mode="after")
    def _linked_listed(self) -> PiiCheck:
        extra = [e for e in self.linked_to_health if e not in self.entities]
        if extra:
            raise ValueError(f"linked_to_health names {', '.join(extra)}, which is not in "
                             "entities; add it to entities or remove it from linked_to_health")
        return self


class PatternCheck(_Strict):
    """Regular expressions and phrases, matched case-insensitively on word boundaries.

    `regex` and `phrases` fire when present in the answer. `absent` fires when none of
    its expressions is present (for duties such as "include crisis resources").
    `when_prompt` limits the check to exchanges whose prompt matches one of its
    expressions (for duties that depend on what was asked).
    """

    regex: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    when_prompt: tuple[str, ...] = ()
    score: float = Field(0.9, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _something(self) -> PatternCheck:
        if not (self.regex or self.phrases or self.absent):
            raise ValueError("a pattern check needs at least one entry in regex, phrases "
                             "or absent")
        for expression in (*self.regex, *self.absent, *self.when_prompt):
            try:
                re.compile(expression)
            except re.error as exc:
                raise ValueError(f"regex {expression!r} does not compile: {exc}") from None
        return self


class DrugLimit(_Strict):
    """One drug's adult daily maximum from its label, and the names an answer may use."""

    name: str = Field(min_length=2)
    aliases: tuple[str, ...] = ()
    max_daily_mg: float = Field(gt=0)
    max_dose_mg: float | None = Field(None, gt=0)
    # strength of one tablet when an answer counts tablets without saying their strength:
    # the lowest strength sold, so the computed daily amount is a lower bound
    tablet_mg: float | None = Field(None, gt=0)
    source: str = Field(min_length=3)


class DoseCheck(_Strict):
    """Daily amounts computed from the answer's doses and frequencies, compared with each
    drug's label maximum (see `supervisor.detectors.dose`)."""

    drugs: tuple[DrugLimit, ...] = Field(min_length=1)
    score: float = Field(0.95, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _distinct_names(self) -> DoseCheck:
        seen: dict[str, str] = {}
        for drug in self.drugs:
            for name in (drug.name, *drug.aliases):
                key = name.strip().lower()
                if key in seen:
                    raise ValueError(f"the name {name!r} is given for both {seen[key]} and "
                                     f"{drug.name}; give each name to one drug")
                seen[key] = drug.name
        return self


CHECK_KINDS = ("judge", "semantic", "pii", "pattern", "dose", "exchange")


class Check(_Strict):
    """One check of a principle: exactly one of judge, semantic, pii, pattern, dose or
    exchange."""

    judge: JudgeCheck | None = None
    semantic: SemanticCheck | None = None
    pii: PiiCheck | None = None
    pattern: PatternCheck | None = None
    dose: DoseCheck | None = None
    exchange: ExchangeCheck | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Check:
        given = [k for k in CHECK_KINDS if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "each check names exactly one kind: judge, semantic, pii, pattern, dose or "
                "exchange "
                f"(got {', '.join(given) or 'none'}); write one '- kind: {{...}}' per check"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in CHECK_KINDS if getattr(self, k))


class Remedy(_Strict):
    """How a `revise` principle is repaired locally; none of these means an LLM rewrite."""

    redact: bool = False
    prepend: str | None = None
    append: str | None = None
    replace: str | None = None

    @model_validator(mode="after")
    def _replace_alone(self) -> Remedy:
        if self.replace is not None and (self.redact or self.prepend or self.append):
            raise ValueError("remedy.replace replaces the whole text; do not combine it "
                             "with redact, prepend or append")
        return self

    @property
    def local(self) -> bool:
        return bool(self.redact or self.prepend or self.append or self.replace is not None)


class Example(_Strict):
    """A labelled exchange: the principle's own test, and an exemplar for `semantic`."""

    prompt: str = ""
    output: str = ""
    expect: Literal["violated", "compliant"]


class Principle(_Strict):
    """One rule of the constitution."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,63}$")
    statement: str = Field(min_length=10)
    applies_to: Literal["input", "output"] = "output"
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    action: Literal["block", "revise", "escalate", "flag"]
    citations: tuple[str, ...] = Field(min_length=1)
    checks: tuple[Check, ...] = Field(min_length=1)
    remedy: Remedy | None = None
    moderation_category: str | None = None
    examples: tuple[Example, ...] = ()

    @field_validator("moderation_category")
    @classmethod
    def _category(cls, value: str | None) -> str | None:
        if value is not None and value not in MODERATION_CATEGORIES:
            raise ValueError(f"use one of {', '.join(MODERATION_CATEGORIES)}")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> Principle:
        if self.remedy is not None and self.action != "revise":
            raise ValueError(f"a remedy only applies when action is revise (action is "
                             f"{self.action}); remove the remedy or set action: revise")
        if self.remedy and self.remedy.redact and not any(c.pii for c in self.checks):
            raise ValueError("remedy.redact needs a pii check to know what to redact; "
                             "add '- pii: {entities: [...]}' to checks")
        if any(c.semantic for c in self.checks):
            kinds = {e.expect for e in self.examples}
            if kinds != {"violated", "compliant"}:
                raise ValueError("a semantic check compares against the examples; give at "
                                 "least one violated and one compliant example")
        return self

    def kinds(self) -> frozenset[str]:
        return frozenset(c.kind for c in self.checks)

    def check(self, kind: str) -> Any:
        """The first check of the given kind, or None."""
        return next((getattr(c, kind) for c in self.checks if getattr(c, kind)), None)


class Defaults(_Strict):
    """Constitution-wide behaviour; every field has the fail-closed value by default."""

    max_revisions: int = Field(2, ge=0, le=5)
    on_error: Literal["block", "allow"] = "block"
    # encrypted: sealed under a per-subject key (supervisor.ledger.sealed), erasable
    store_text: Literal["none", "redacted", "full", "encrypted"] = "redacted"
    # how long `supervisor audit retain` keeps encrypted texts readable (7 years)
    retain_texts_days: int = Field(2555, ge=1)
    require_judge: bool = False
    # distinct people whose agree / override closes an escalation (four eyes: 2)
    reviewers: int = Field(1, ge=1, le=5)
    refusal: str = "I can't share that answer. It did not meet this service's policies."
    escalation: str = ("This answer needs review by a person before it can be shared. "
                       "You will hear back once it has been reviewed.")


class _Document(_Strict):
    """The file as written, before `extends` is resolved."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
    extends: str | None = None
    title: str = ""
    description: str = ""
    defaults: dict[str, Any] = Field(default_factory=dict)
    remove: tuple[str, ...] = ()
    principles: tuple[Principle, ...] = ()


@dataclass(frozen=True)
class Constitution:
    """A validated, resolved, immutable constitution with a stable content hash."""

    id: str
    version: str
    title: str
    defaults: Defaults
    principles: tuple[Principle, ...]
    path: str = ""
    lineage: tuple[str, ...] = ()

    @cached_property
    def canonical(self) -> bytes:
        """Sorted-key compact JSON of the resolved content; what `sha256` is taken of."""
        content = {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "defaults": self.defaults.model_dump(mode="json",
                                                 exclude=_at_default(self.defaults)),
            "principles": [p.model_dump(mode="json") for p in self.principles],
        }
        return json.dumps(content, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical).hexdigest()

    def principle(self, principle_id: str) -> Principle:
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise KeyError(principle_id)

    def stage(self, stage: str) -> tuple[Principle, ...]:
        return tuple(p for p in self.principles if p.applies_to == stage)


# fields added after constitutions were in use: at their default they are left out of the
# hash, so adding them changed no existing constitution's sha256 (ledgers name it)
_UNHASHED_AT_DEFAULT = frozenset({"reviewers", "retain_texts_days"})


def _at_default(defaults: Defaults) -> set[str]:
    return {name for name in _UNHASHED_AT_DEFAULT
            if getattr(defaults, name) == Defaults.model_fields[name].default}


def load_constitution(ref: str | Path) -> Constitution:
    """Load a constitution by shipped id (`healthcare`) or by path to a YAML file."""
    return _resolve(_locate(str(ref), base_dir=None), chain=())


def shipped() -> tuple[str, ...]:
    """Ids of the constitutions that ship with the project."""
    return tuple(sorted(p.stem for p in SHIPPED_DIR.glob("*.yaml")))


def _locate(ref: str, base_dir: Path | None) -> Path:
    as_path = Path(ref)
    candidates = []
    if ref.endswith((".yaml", ".yml")) or "/" in ref or as_path.suffix:
        if base_dir is not None and not as_path.is_absolute():
            candidates.append(base_dir / as_path)
        candidates.append(as_path)
    else:
        if base_dir is not None:
            candidates.append(base_dir / f"{ref}.yaml")
        candidates.append(SHIPPED_DIR / f"{ref}.yaml")
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ConstitutionError(
        f"no constitution {ref!r}: give a path to a YAML file or one of the shipped ids "
        f"({', '.join(shipped())})",
        path=ref,
    )


def _resolve(path: Path, chain: tuple[Path, ...]) -> Constitution:
    if path in chain:
        cycle = " -> ".join(p.name for p in (*chain, path))
        raise ConstitutionError(f"extends forms a cycle ({cycle}); remove one of the links",
                                path=str(path), key="extends")
    node, raw = _parse(path)
    try:
        doc = _Document.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, node, path) from None
    _check_duplicates(doc, node, path)

    parent: Constitution | None = None
    if doc.extends:
        parent = _resolve(_locate(doc.extends, base_dir=path.parent), (*chain, path))

    principles: dict[str, Principle] = {p.id: p for p in parent.principles} if parent else {}
    for removed in doc.remove:
        if removed not in principles:
            raise ConstitutionError(
                f"remove names {removed!r}, which the parent does not define; "
                f"use one of {', '.join(principles) or '(none)'}",
                path=str(path), line=_line(node, ("remove",)), key="remove")
        del principles[removed]
    for p in doc.principles:
        principles[p.id] = p  # a child principle with a parent's id overrides it

    merged = {**(parent.defaults.model_dump() if parent else {}), **doc.defaults}
    try:
        defaults = Defaults.model_validate(merged)
    except ValidationError as exc:
        raise _explain(exc, node, path, prefix=("defaults",)) from None
    if not principles:
        raise ConstitutionError("a constitution needs at least one principle (its own or "
                                "through extends)", path=str(path), key="principles")
    return Constitution(
        id=doc.id, version=doc.version, title=doc.title or doc.id, defaults=defaults,
        principles=tuple(principles.values()), path=str(path),
        lineage=((*parent.lineage, f"{parent.id}@{parent.version}") if parent else ()),
    )


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader with YAML 1.2 booleans: only true/false.

    YAML 1.1 also reads yes/no/on/off as booleans, which turns the key `on:` (a semantic
    check's field) or an answer "no" into True/False behind the author's back.
    """


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def _parse(path: Path) -> tuple[yaml.Node, Any]:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConstitutionError(f"not valid YAML: {getattr(exc, 'problem', exc)}; check the "
                                "indentation and quoting there", path=str(path),
                                line=mark.line + 1 if mark else None) from None
    if node is None or not isinstance(node, yaml.MappingNode):
        raise ConstitutionError("the file must be a YAML mapping with id, version and "
                                "principles", path=str(path), line=1)
    _refuse_duplicate_keys(node, path)
    return node, yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass


def _refuse_duplicate_keys(node: yaml.Node, path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise ConstitutionError(f"key {key.value!r} appears twice in one mapping; "
                                        "keep one", path=str(path),
                                        line=key.start_mark.line + 1, key=str(key.value))
            seen.add(key.value)
            _refuse_duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, path)


def _check_duplicates(doc: _Document, node: yaml.Node, path: Path) -> None:
    seen: set[str] = set()
    for index, p in enumerate(doc.principles):
        if p.id in seen:
            raise ConstitutionError(
                f"principle id {p.id!r} is used twice; ids must be unique (to change an "
                "inherited principle, define it once with the same id)",
                path=str(path), line=_line(node, ("principles", index, "id")), key="id")
        seen.add(p.id)


def _children(node: yaml.Node) -> Iterator[tuple[Any, yaml.Node, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key.value, key, value
    elif isinstance(node, yaml.SequenceNode):
        for index, value in enumerate(node.value):
            yield index, value, value


def _line(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the deepest node of `loc` that exists in the YAML tree."""
    line = node.start_mark.line + 1
    current = node
    for part in loc:
        match = next(((k, v) for name, k, v in _children(current) if name == part), None)
        if match is None:
            break
        key_node, current = match
        line = key_node.start_mark.line + 1
    return line


def _explain(exc: ValidationError, node: yaml.Node, path: Path,
             prefix: tuple[Any, ...] = ()) -> ConstitutionError:
    # an unknown key usually explains a "missing" one (a typo), so report it first
    error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = tuple(part for part in error["loc"] if not _is_union_tag(part))
    full = (*prefix, *loc)
    key = str(loc[-1]) if loc else ""
    where = ".".join(str(p) for p in full)
    if error["type"] == "extra_forbidden":
        allowed = _allowed_keys(loc)
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        message = (f"unknown key {key!r} at {where}{hint}; allowed keys here: "
                   f"{', '.join(allowed)}")
    elif error["type"] == "missing":
        message = f"missing required key {key!r} at {where}; add it"
    else:
        message = f"{where}: {error['msg'].removeprefix('Value error, ')}"
    count = exc.error_count()
    if count > 1:
        message += f" (and {count - 1} more problem{'s' if count > 2 else ''})"
    return ConstitutionError(message, path=str(path), line=_line(node, full), key=key)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part in {"JudgeCheck", "SemanticCheck", "PiiCheck",
                                              "PatternCheck", "DoseCheck", "Remedy"}


_MODELS: Mapping[str, type[BaseModel]] = {
    "principles": Principle, "checks": Check, "remedy": Remedy, "examples": Example,
    "judge": JudgeCheck, "semantic": SemanticCheck, "pii": PiiCheck, "pattern": PatternCheck,
    "dose": DoseCheck, "drugs": DrugLimit, "defaults": Defaults,
}


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = _Document
    for part in loc[:-1]:
        if isinstance(part, str) and part in _MODELS:
            model = _MODELS[part]
    return list(model.model_fields)
