"""AIP-158 paging over a sorted list of names: the page token is the first name of the next page."""
from __future__ import annotations

from tango.runtime.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50


def page_of(names: list[str], page_size: int, page_token: str) -> tuple[list[str], str]:
    """(names of this page, token of the next page or "")."""
    if page_token and page_token not in names:
        raise InvalidArgument(f"unknown page token {page_token!r}", reason="BAD_PAGE_TOKEN")
    start = names.index(page_token) if page_token else 0
    size = page_size if page_size > 0 else DEFAULT_PAGE_SIZE
    return names[start:start + size], (names[start + size] if start + size < len(names) else "")
