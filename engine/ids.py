"""Docker/OCI identifiers: digests, short IDs, container names."""

from __future__ import annotations

import hashlib
import os
import random
import re

HEX64 = re.compile(r"^[0-9a-f]{64}$")

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


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(data: bytes) -> str:
    return "sha256:" + sha256_hex(data)


def strip_algo(ident: str) -> str:
    return ident.split(":", 1)[1] if ident.startswith("sha256:") else ident


def short(ident: str) -> str:
    """The 12-hex form Docker shows by default."""
    return strip_algo(ident)[:12]


def new_id() -> str:
    return os.urandom(32).hex()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainID: ChainID(L0)=DiffID(L0); ChainID(Ln)=sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else digest(f"{out[-1]} {d}".encode()))
    return out


def random_name(taken: set[str]) -> str:
    """Docker-style ``adjective_surname``; a digit is appended on the rare collision."""
    rng = random.SystemRandom()
    name = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}"
    while name in taken:
        name = f"{rng.choice(_ADJECTIVES)}_{rng.choice(_SURNAMES)}{rng.randint(0, 9)}"
    return name


NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
