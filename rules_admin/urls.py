from django.urls import path

from . import views

app_name = "rules_admin"

urlpatterns = [
    path("", views.models_list, name="list"),
    path("<slug:slug>/", views.model_detail, name="model"),
    path("<slug:slug>/criteria/new/", views.criterion_form, name="criterion_new"),
    path("<slug:slug>/criteria/<int:pk>/edit/", views.criterion_form, name="criterion_edit"),
    path(
        "<slug:slug>/criteria/<int:pk>/<slug:action>/",
        views.criterion_action,
        name="criterion_action",
    ),
    path("<slug:slug>/thresholds/", views.thresholds, name="thresholds"),
    path("<slug:slug>/whatif/", views.whatif, name="whatif"),
    path("<slug:slug>/publish/", views.publish, name="publish"),
    path("<slug:slug>/runs/<int:pk>/", views.run_progress, name="run"),
    path("<slug:slug>/history/", views.history, name="history"),
    path("<slug:slug>/history/<int:number>/restore/", views.restore, name="restore"),
    path("<slug:slug>/proposals/", views.proposals, name="proposals"),
    path("<slug:slug>/proposals/<int:pk>/", views.proposal_detail, name="proposal"),
    path("<slug:slug>/proposals/<int:pk>/apply/", views.proposal_apply, name="proposal_apply"),
    path(
        "<slug:slug>/proposals/<int:pk>/decline/", views.proposal_decline, name="proposal_decline"
    ),
]
