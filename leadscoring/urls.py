from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from scoring import views as scoring_views

admin.site.site_header = "Lead scoring administration"
admin.site.site_title = "Lead scoring"

urlpatterns = [
    path("", scoring_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Before signing in too: the sign-in page is the first one people read.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("rules/", include("rules_admin.urls")),
    path("reports/", include("reports.urls")),
    path("outcomes/", include("learning.urls")),
    path("", include("pipeline.urls")),
    path("api/", include("scoring.api.urls")),
    path("", include("integrations.urls")),
]
