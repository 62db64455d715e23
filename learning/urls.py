from django.urls import path

from . import views

app_name = "learning"

urlpatterns = [
    path("<slug:slug>/", views.model_lessons, name="model"),
    path("<slug:slug>/to-draft/", views.suggestion_to_draft, name="to_draft"),
    path("<slug:slug>/train/", views.predictive_train, name="train"),
    path("<slug:slug>/backtest/", views.backtest, name="backtest"),
]
