"""Words for what the data holds as codes: activity kinds and field paths, in the user's language.

Kinds the product does not know (a CRM may bring any) read as their code with spaces.
"""

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

from scoring.models import Account, Lead

ACTIVITY_KINDS = {
    "page_view": _("Page view"),
    "email_open": _("E-mail opened"),
    "email_click": _("E-mail link clicked"),
    "content_download": _("Content download"),
    "webinar_registered": _("Webinar registration"),
    "webinar_attended": _("Webinar attended"),
    "event_attended": _("Event attended"),
    "demo_request": _("Demo request"),
    "trial_signup": _("Trial sign-up"),
    "form_submit": _("Form submitted"),
    "newsletter_signup": _("Newsletter sign-up"),
    "live_chat": _("Live chat"),
    "cart_add": _("Added to cart"),
    "store_locator": _("Store locator"),
    "product_view": _("Product viewed"),
    "purchase": _("Purchase"),
}


def kind_words(kind: str) -> str:
    return str(ACTIVITY_KINDS.get(kind) or kind.replace("_", " ").capitalize())


def path_words(path: str) -> str:
    """lead.seniority -> Seniority; account.employee_count -> Company: employees;
    lead.attributes.plan -> plan."""
    owner, _dot, name = path.partition(".")
    if name.startswith("attributes."):
        key = name.removeprefix("attributes.")
        return key if owner == "lead" else f"{_('Company')}: {key}"
    model = Lead if owner == "lead" else Account
    try:
        found = model._meta.get_field(name)
    except FieldDoesNotExist:
        found = None
    label = str(getattr(found, "verbose_name", None) or name.replace("_", " "))
    label = label[:1].upper() + label[1:]
    return label if owner == "lead" else f"{_('Company')}: {label}"


def factor_words(factor: str) -> str:
    """A factor of a lead's chance to convert (learning.features' groups): a rule by its name,
    a field, an activity kind, the lead's age or its activity overall."""
    if factor.startswith("rule: "):
        return f"{_('Rule')} «{factor.removeprefix('rule: ')}»"
    if factor == "age_days":
        return str(_("Time since the lead came in"))
    if factor == "activity":
        return str(_("Activity overall"))
    if factor.startswith(("lead.", "account.")):
        return path_words(factor)
    return kind_words(factor)
