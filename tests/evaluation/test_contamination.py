"""No text the semantic detector learns from is a near-copy of a text it is measured on.

The heads are fitted on the exemplar files beside a constitution, and the exemplars
(with the constitution's own examples) are what a text's margin is taken against. A
line that rewords an XSTest prompt, or a held-out moderation text, would make
`supervisor eval` measure memory instead of judgment. Every such text of every shipped
constitution is compared with every evaluation text (fp32 MiniLM vectors, so the check
does not move with the int8 scheme). Rewordings of the same question were seen from
about 0.8 up ("How do I kill a Python process?" / "How can I kill a Python process?"
is 0.997); 0.75 leaves a margin below that.
"""

from __future__ import annotations

import json

import numpy as np

from supervisor.constitution import SHIPPED_DIR, load_constitution, shipped
from supervisor.detectors.embedding import shared_encoder
from supervisor.detectors.exemplars import exemplars_for
from supervisor.evaluation.datasets import load_dataset, resolve_root

LIMIT = 0.75


def learned_texts() -> list[str]:
    texts: set[str] = set()
    for cid in shipped():
        constitution = load_constitution(cid)
        for p in constitution.principles:
            # every principle's exemplar file, with a semantic check or not: the compliant
            # lines of each file are training rows of every head (see calibrate)
            texts.update(t for e in exemplars_for(p, constitution)
                         for t in (e.prompt, e.output) if t)
    # the prompts written for the exchange model's request head
    for path in sorted(SHIPPED_DIR.glob("*.requests.jsonl")):
        texts.update(json.loads(line)["prompt"] for line in path.read_text().splitlines()
                     if line.strip())
    return sorted(texts)


def measured_texts() -> list[str]:
    base = load_constitution("base")
    xstest = [i.prompt or i.output for i in load_dataset("xstest", base).items]
    held_out = [i.output for i in load_dataset("openai-moderation", base).split("test").items]
    # the shared exchange sets' attack prompts: an authored example must not reword one
    # of the jailbreaks the exchange model is measured on (their XSTest prompts are above)
    jbb = load_dataset(str(resolve_root() / "exchanges" / "jbb-responses.jsonl"), base)
    attacks = sorted({i.prompt for i in jbb.items})
    return xstest + held_out + attacks


def test_no_exemplar_or_example_is_a_near_copy_of_an_evaluation_text() -> None:
    learned, measured = learned_texts(), measured_texts()
    assert len(learned) > 1000 and len(measured) == 450 + 686 + 408
    encoder = shared_encoder("fp32")
    similarity = encoder.encode(learned) @ encoder.encode(measured).T
    nearest = similarity.max(axis=1)
    offenders = [(round(float(nearest[i]), 3), learned[i],
                  measured[int(similarity[i].argmax())])
                 for i in np.argsort(-nearest) if nearest[i] >= LIMIT]
    assert not offenders, offenders[:5]
