"""The three roles and what each may do; applied by a data migration and by seed_demo."""

MARKETING = "marketing"
SALES = "sales"
ADMIN = "admin"

# app_label.codename; "view" everywhere for everyone who signs in to work with leads.
_VIEW_ALL = [
    f"scoring.view_{m}"
    for m in (
        "account",
        "lead",
        "activity",
        "leadoutcome",
        "scoringmodel",
        "criterion",
        "scoringmodelversion",
        "leadscore",
        "handoff",
    )
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    MARKETING: _VIEW_ALL
    + [
        "scoring.add_account",
        "scoring.change_account",
        "scoring.add_lead",
        "scoring.change_lead",
        "scoring.add_activity",
        "scoring.add_scoringmodel",
        "scoring.change_scoringmodel",
        "scoring.publish_scoringmodel",
        "scoring.add_criterion",
        "scoring.change_criterion",
        "scoring.delete_criterion",
    ],
    SALES: _VIEW_ALL
    + [
        "scoring.change_lead",
        "scoring.change_handoff",
        "scoring.work_handoff",
        "scoring.propose_scoringmodel",
        "scoring.add_leadoutcome",
    ],
    ADMIN: [],  # admins get every permission; see grant_role_permissions
}


def grant_role_permissions(group_model, permission_model) -> None:  # type: ignore[no-untyped-def]
    """Create the groups and set their permissions exactly (works with historical models too)."""
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        if role == ADMIN:
            group.permissions.set(permission_model.objects.all())
            continue
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted.append(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
