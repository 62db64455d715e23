from django.urls import path

from . import views

urlpatterns = [
    path("t/<str:site_key>/collect/", views.beacon, name="tracking-beacon"),
    path("tracking/demo/<str:site_key>/", views.tracking_demo, name="tracking-demo"),
]
