"""Masking of personal numbers for display (pure; no app imports)."""

from __future__ import annotations


def mask_phone(phone: str | None) -> str:
    """``13812341234`` → ``138****1234``; landlines keep area code and last four digits."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) == 11 and digits.isdigit():
        return f"{digits[:3]}****{digits[-4:]}"
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) > 7 else 1
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_id_number(id_number: str | None) -> str:
    """``14010119900101123X`` → ``1401**********123X`` (region prefix and last four kept)."""
    if not id_number:
        return ""
    value = id_number.strip()
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_name(name: str | None) -> str:
    """Anonymise a name for public pages: ``张三丰`` → ``张**``."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)


def mask_email(email: str | None) -> str:
    """``zhang@example.com`` → ``z****@example.com`` (the domain says which provider, not who)."""
    if not email:
        return ""
    local, at, domain = email.strip().partition("@")
    if not at:
        return mask_name(local)
    return (local[:1] + "*" * max(len(local) - 1, 1)) + "@" + domain
