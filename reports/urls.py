from django.urls import path, re_path

from . import views

app_name = "reports"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    re_path(r"^exports/(?P<dataset>[a-z]+)\.(?P<extension>csv|xlsx)$", views.export, name="export"),
]
