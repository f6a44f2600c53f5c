"""Triage suggestions, pure: character-bigram counts over past triaged matters (a tiny naive
Bayes). It only *suggests* a category and department; a supervisor always decides.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

_KEEP = re.compile(r"[\w\u4e00-\u9fff]+")


def tokens(text: str) -> list[str]:
    """Character bigrams of the CJK/word runs (plus single characters for very short texts)."""
    out: list[str] = []
    for run in _KEEP.findall((text or "").lower()):
        if len(run) == 1:
            out.append(run)
        out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@dataclass
class Model:
    label_counts: Counter = field(default_factory=Counter)
    token_counts: dict[str, Counter] = field(default_factory=dict)
    vocabulary: set[str] = field(default_factory=set)

    def learn(self, text: str, label: str) -> None:
        self.label_counts[label] += 1
        counts = self.token_counts.setdefault(label, Counter())
        for tok in tokens(text):
            counts[tok] += 1
            self.vocabulary.add(tok)

    def scores(self, text: str) -> list[tuple[str, float]]:
        """Labels with their probability, best first (empty when nothing was learned)."""
        total = sum(self.label_counts.values())
        if not total:
            return []
        toks = tokens(text)
        v = len(self.vocabulary) + 1
        logs = {}
        for label, n in self.label_counts.items():
            counts = self.token_counts.get(label, Counter())
            size = sum(counts.values())
            lp = math.log(n / total)
            for tok in toks:
                lp += math.log((counts[tok] + 1) / (size + v))
            logs[label] = lp
        top = max(logs.values())
        exp = {k: math.exp(lv - top) for k, lv in logs.items()}
        norm = sum(exp.values())
        return sorted(((k, e / norm) for k, e in exp.items()), key=lambda kv: (-kv[1], kv[0]))


def train(samples: Iterable[tuple[str, str]]) -> Model:
    model = Model()
    for text, label in samples:
        if label:
            model.learn(text, label)
    return model


def best(model: Model, text: str) -> tuple[str | None, float]:
    ranked = model.scores(text)
    return ranked[0] if ranked else (None, 0.0)
