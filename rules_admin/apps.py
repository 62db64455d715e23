from django.apps import AppConfig


class RulesAdminConfig(AppConfig):
    name = "rules_admin"
    verbose_name = "Rule editor"
