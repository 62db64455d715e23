"""{% load words %}: codes of the data in words ({{ a.kind|kind_words }})."""

from django import template

from scoring.words import factor_words as _factor_words
from scoring.words import kind_words as _kind_words
from scoring.words import path_words as _path_words

register = template.Library()


@register.filter
def kind_words(kind: str) -> str:
    return _kind_words(kind)


@register.filter
def factor_words(factor: str) -> str:
    return _factor_words(factor)


@register.filter
def path_words(path: str) -> str:
    return _path_words(path)
