from django.core.management.base import BaseCommand, CommandError, CommandParser

from learning.predictive import predictive_train, probabilities_refresh
from learning.suggest import NotEnoughOutcomes
from scoring.models import ScoringModel


class Command(BaseCommand):
    help = (
        "Train a scoring model's predictive score on its leads' outcomes, print how well it "
        "ranks the latest outcomes (test AUC) against the rules and the base rate, then give "
        "every lead it scores its chance to convert."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", required=True, help="slug of the scoring model")

    def handle(self, *args: object, **options: str) -> None:
        slug = options["model"]
        scoring_model = (
            ScoringModel.objects.select_related("published_version").filter(slug=slug).first()
        )
        if scoring_model is None:
            known = ", ".join(ScoringModel.objects.values_list("slug", flat=True)) or "none"
            raise CommandError(f"No scoring model {slug!r} (known: {known}).")
        try:
            trained = predictive_train(scoring_model=scoring_model)
        except NotEnoughOutcomes as exc:
            raise CommandError(
                f"{slug}: not trained, {exc}. The rule score goes on as before."
            ) from None
        except LookupError:
            raise CommandError(f"{slug}: nothing is published yet.") from None
        predictive = trained.predictive
        self.stdout.write(
            f"{slug}: predictive score v{predictive.number} ({predictive.kind}), learned from "
            f"{predictive.train_size} outcomes, tested on the latest {predictive.test_size}"
        )
        rules = _figure(trained.auc_rules)
        self.stdout.write(f"test AUC {_figure(predictive.test_auc)} (the rules: {rules})")
        self.stdout.write(f"base rate {predictive.base_rate:.1%}")
        count = probabilities_refresh(scoring_model=scoring_model)
        self.stdout.write(f"{count} leads have their chance to convert")


def _figure(value: float | None) -> str:
    return "n/a (one kind of outcome only)" if value is None else f"{value:.3f}"
