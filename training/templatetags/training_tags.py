from django import template
from django.utils.safestring import SafeString, mark_safe

from constitutions.diff import word_diff_html

register = template.Library()


@register.simple_tag
def word_diff(before: str | None, after: str | None) -> SafeString:
    """``{% word_diff a b %}``: the project's one word diff, escaped, with <del>/<ins>."""
    return mark_safe(word_diff_html(before, after))
