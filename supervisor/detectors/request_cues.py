"""Cues of who or what a request's harm is aimed at, for the exchange model's request head.

A sentence vector of a short prompt holds its topic better than its target: "How do I kill
a stuck process?" and "How do I kill my neighbour?" sit close together. These cues read the
target and the frame with small word lists: a harm verb followed within three words by a
person or an animal, or by a process or an object; a question asking what something is or
what happened (a definition, history) against one asking how to do it; a game or a story;
a real group of people beside a call to deny it something; a private person's address,
records or passwords; praise, denial or repetition of an atrocity. Each cue is one 0/1
column beside the embedding (`exchange.request_features`), so the head learns how much
each weighs, and a reading names the cues that fired.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

_HARM = (r"(?:kill|murder|shoot|stab|strangle|choke|poison|hurt|harm|attack|beat|punch|hit"
         r"|slap|smother|drown|burn|torch|execute|terminate|butcher|gut|slaughter|eliminate"
         r"|crush|blow up|bomb|kidnap|snatch|abduct|rob|steal|break into|torture|rape"
         r"|assault|starve|hang|bury|run over|push|spike|drug|stalk|track|dox|blackmail"
         r"|extort)\w*")
_PERSON = (r"(?:someone|somebody|people|person|persons|human|humans|him|her|them|man|woman"
           r"|women|men|child|children|kid|kids|baby|girl|boy|wife|husband|partner|girlfriend"
           r"|boyfriend|ex|neighbou?r|boss|coworker|colleague|roommate|flatmate|teacher"
           r"|stranger|witness|cop|officer|police|family|mother|father|mum|mom|dad|brother"
           r"|sister|son|daughter|relative|classmate|cat|dog|puppy|kitten|animal|pet|horse"
           r"|goat|bird|pigeons?|crowd|student|myself|me)\b")
_OBJECT = (r"(?:process|program|programs|app|application|job|jobs|thread|container|task"
           r"|server|instance|script|query|command|code|file|files|folder|drive|photo"
           r"|picture|moss|ants|flies|pests?|mice|hour|afternoon|lights?|engine|chicken"
           r"|bread|garlic|tomato|paper|document|documents|statements|game|boss fight|dragon"
           r"|zombies?|level|habit|cold|deal|exam|idea)\b")
_VERB = re.compile(rf"\b{_HARM}\b", re.IGNORECASE)
_AT_PERSON = re.compile(rf"\b{_HARM}\b(?:\W+\w+){{0,3}}?\W+{_PERSON}", re.IGNORECASE)
_AT_OBJECT = re.compile(rf"\b{_HARM}\b(?:\W+\w+){{0,3}}?\W+{_OBJECT}", re.IGNORECASE)
_WHAT = re.compile(r"^\s*(?:what\s+(?:is|are|was|were|does|did|happened|caused|counts"
                   r"|constitutes|makes)|define|who\s+(?:is|was|were)|why\s+did"
                   r"|when\s+(?:was|did)|how\s+did)\b", re.IGNORECASE)
_HOW_TO = re.compile(r"\b(?:how\s+(?:do|can|could|should|would)\s+(?:i|we|you|one)"
                     r"|best\s+way|ways?\s+(?:of|to)|give\s+me|write|help\s+me|tell\s+me"
                     r"|plan|steps?\s+to)\b", re.IGNORECASE)
_PLAY = re.compile(r"\b(?:in\s+(?:a\s+)?(?:game|video\s*game|chess|the\s+game|minecraft"
                   r"|skyrim|fortnite|gta|call of duty|counter.?strike|paintball|rugby"
                   r"|football|boxing)|(?:video\s*)?game|film|movie|novel|fiction)\b",
                   re.IGNORECASE)
_GROUP = re.compile(r"\b(?:women|men|muslims?|jews?|jewish|black|white|asians?|latinos?"
                    r"|mexicans?|immigrants?|refugees?|gay|lesbian|trans|transgender"
                    r"|disabled|deaf|blind|roma|sikhs?|hindus?|christians?|atheists?"
                    r"|elderly|old people|divorced|poor|homeless|catholics?|arabs?"
                    r"|africans?|chinese|indians?)\b", re.IGNORECASE)
_DENY = re.compile(r"\b(?:should\s+(?:not|never)|shouldn'?t|not\s+be\s+allowed"
                   r"|be\s+(?:banned|barred|denied|refused|kept|deported|sterili[sz]ed"
                   r"|stopped|excluded)|less\s+intelligent|inferior|deserve)\b", re.IGNORECASE)
_PRIVATE = re.compile(r"\b(?:my|our|his|her|a)\s+(?:\w+\s+)?(?:neighbou?r|ex|ex-girlfriend"
                      r"|ex-boyfriend|coworker|colleague|boss|landlord|therapist|wife|husband"
                      r"|partner|girlfriend|boyfriend|sister|brother|flatmate|roommate"
                      r"|teacher|date|patient|nurse|doctor)'?s?\b.*\b(?:address|phone"
                      r"|number|password|pin|medical|records?|diagnosis|medication|location"
                      r"|messages|texts|email|credit card|bank|account|social security"
                      r"|lives)\b", re.IGNORECASE)
_ATROCITY = re.compile(r"\b(?:never\s+happened|didn'?t\s+happen|justified|was\s+good"
                       r"|good\s+for|right\s+thing|prais\w+|overstate|exaggerat\w+"
                       r"|replicate|recreate|repeat|happen\s+again|like\s+the)\b",
                       re.IGNORECASE)

NAMES = ("harm verb", "harm verb aimed at a person or animal",
         "harm verb aimed at a process or object", "asks what something is or was",
         "asks how to", "a game or story", "a real group denied something",
         "a private person's details", "praise, denial or repetition of an atrocity",
         "how to harm a person", "what harming a person is", "harm verb in a game or story")


def request_cues(prompt: str) -> npt.NDArray[np.float32]:
    """The cues of `NAMES`, 1 where it fired, in that order."""
    verb = bool(_VERB.search(prompt))
    person = bool(_AT_PERSON.search(prompt))
    thing = bool(_AT_OBJECT.search(prompt)) and not person
    what, how = bool(_WHAT.search(prompt)), bool(_HOW_TO.search(prompt))
    play = bool(_PLAY.search(prompt))
    denied = bool(_GROUP.search(prompt)) and bool(_DENY.search(prompt))
    return np.array([verb, person, thing, what, how, play, denied,
                     bool(_PRIVATE.search(prompt)), bool(_ATROCITY.search(prompt)),
                     person and how, person and what, verb and play], dtype=np.float32)


def fired(prompt: str) -> tuple[str, ...]:
    """The names of the cues that fired on a prompt, for a reviewer."""
    return tuple(n for n, v in zip(NAMES, request_cues(prompt), strict=True) if v)
