from django.urls import path

from . import views

app_name = "pipeline"

urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/<int:handoff_id>/", views.handoff, name="handoff"),
    path("queue/filters/", views.saved_filter_save, name="saved_filter_save"),
    path(
        "queue/filters/<int:saved_filter_id>/delete/",
        views.saved_filter_delete,
        name="saved_filter_delete",
    ),
    path("leads/", views.leads, name="leads"),
    path("leads/<int:lead_id>/", views.lead_detail, name="lead_detail"),
    path(
        "leads/<int:lead_id>/personal-data/",
        views.lead_personal_data,
        name="lead_personal_data",
    ),
    path("leads/<int:lead_id>/erase/", views.lead_erase, name="lead_erase"),
]
