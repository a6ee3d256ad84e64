from django import template

from training.textdiff import word_diff as _word_diff

register = template.Library()


@register.simple_tag
def word_diff(before: str, after: str):
    """``{% word_diff a b %}``: escaped word diff with <del>/<ins>."""
    return _word_diff(before, after)
