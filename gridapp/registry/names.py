"""Search keys for Chinese names: full pinyin and initials, the way people type on a phone."""

from __future__ import annotations

from functools import lru_cache

from pypinyin import Style, lazy_pinyin


@lru_cache(maxsize=65536)
def name_keys(name: str) -> tuple[str, str]:
    """``张三`` → ``("zhangsan", "zs")``. Non-Chinese characters pass through lower-cased."""
    name = (name or "").strip()
    if not name:
        return "", ""
    full = lazy_pinyin(name, style=Style.NORMAL, errors="default")
    parts = [w.lower() for p in full for w in p.split() if w.isalnum()]
    return "".join(parts)[:200], "".join(p[0] for p in parts if p)[:50]
