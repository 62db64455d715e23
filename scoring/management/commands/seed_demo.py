"""manage.py seed_demo: demo data, demo users and demo scoring models (safe to run again)."""

from pathlib import Path

import yaml
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from scoring.demo import DEMO_LOGINS, seed_demo
from scoring.models import ScoringModel
from scoring.rescoring import leads_rescore
from scoring.services import scoring_model_load

MODEL_LIBRARY = Path(__file__).resolve().parents[2] / "model_library"


class Command(BaseCommand):
    help = (
        "Load deterministic demo accounts, leads, activities, users and the scoring models of "
        "scoring/model_library, then score every lead; re-running adds nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (creates known passwords)"
        )

    def handle(self, *args: object, seed: int, force: bool, **options: object) -> None:
        if not settings.DEBUG and not force:
            raise CommandError("seed_demo creates users with known passwords; add --force.")
        summary = seed_demo(now=timezone.now(), seed=seed)
        self.stdout.write(self.style.SUCCESS("Demo data loaded:"))
        for kind, created in summary.created.items():
            self.stdout.write(
                f"  {kind:<11}{created:>6} created{summary.existing[kind]:>6} existing"
            )
        self.load_demo_models()
        rescored = leads_rescore()
        self.stdout.write(f"  {rescored.leads} leads scored:")
        for slug, count in sorted(rescored.per_model.items()):
            self.stdout.write(f"    {slug}: {count} scores")
        self.stdout.write("")
        self.stdout.write("Sign in at http://127.0.0.1:8000/ as:")
        self.stdout.write(f"  {'role':<11}{'username':<11}password")
        for role, username, password in DEMO_LOGINS:
            self.stdout.write(f"  {role:<11}{username:<11}{password}")

    def load_demo_models(self) -> None:
        """Publish each library model once; a model that exists already keeps its edits."""
        existing = set(ScoringModel.objects.values_list("slug", flat=True))
        for path in sorted(MODEL_LIBRARY.glob("*.yaml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if data["slug"] in existing:
                self.stdout.write(f"  scoring model {data['slug']}: kept as it is")
                continue
            _, version = scoring_model_load(data=data, note="Demo model from the scoring articles")
            assert version is not None  # published: scoring_model_load publishes by default
            self.stdout.write(f"  scoring model {data['slug']}: published version {version.number}")
