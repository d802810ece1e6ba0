"""Container IDs and Docker-style ``adjective_surname`` names."""

from __future__ import annotations

import os
import random
import re

_ADJECTIVES = (
    "admiring adoring affectionate agitated amazing angry awesome blissful bold boring brave "
    "busy charming clever cool compassionate competent condescending confident cranky crazy "
    "dazzling determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic "
    "fervent festive flamboyant focused friendly frosty gallant gifted goofy gracious happy "
    "hardcore heuristic hopeful hungry infallible inspiring jolly jovial keen kind laughing "
    "loving lucid magical modest musing mystifying naughty nervous nice nifty nostalgic "
    "objective optimistic peaceful pedantic pensive practical priceless quirky quizzical "
    "relaxed reverent romantic sad serene sharp silly sleepy stoic strange stupefied "
    "suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant vigorous "
    "wizardly wonderful xenodochial youthful zealous zen"
).split()
_SURNAMES = (
    "albattani allen almeida archimedes ardinghelli babbage banach bardeen bartik bassi bell "
    "benz bhabha bose brahmagupta brattain brown carson chandrasekhar curie darwin davinci "
    "dijkstra driscoll dubinsky easley einstein elion engelbart euclid euler fermat fermi "
    "feynman franklin galileo gates goldberg goldstine golick goodall hamilton hawking "
    "heisenberg hermann hodgkin hoover hopper hugle hypatia jackson jang jennings jepsen "
    "johnson joliot jones kalam kapitsa keller kepler khorana kilby kirch knuth kowalevski "
    "lalande lamarr lamport leakey leavitt lewin lichterman liskov lovelace lumiere mahavira "
    "mayer mccarthy mcclintock mclean mcnulty meitner mendel mirzakhani montalcini moore "
    "morse murdock napier newton nightingale nobel noether northcutt noyce panini pare "
    "pasteur payne perlman pike poincare poitras ptolemy raman ramanujan ride ritchie "
    "roentgen rosalind saha sammet shannon shaw shirley shockley sinoussi snyder spence "
    "stonebraker sutherland swanson swartz swirles tesla thompson torvalds turing varahamihira "
    "visvesvaraya volhard wescoff wiles williams wilson wing wozniak wright yalow yonath"
).split()


def new_id() -> str:
    return os.urandom(32).hex()


def random_name(taken: set[str]) -> str:
    """Docker-style ``adjective_surname``; a digit is appended on the rare collision."""
    rng = random.SystemRandom()
    name = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}"
    while name in taken:
        name = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}{rng.randint(0, 9)}"
    return name


NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
