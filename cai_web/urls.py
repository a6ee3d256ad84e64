from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", login_not_required(auth_views.LogoutView.as_view()), name="logout"),
    path("", views.home, name="home"),
    path("teams/new/", views.team_create, name="team_create"),
    path("t/<slug:slug>/", views.team_dashboard, name="team_dashboard"),
    path("t/<slug:slug>/members/", views.team_members, name="team_members"),
    path("t/<slug:slug>/members/<int:pk>/", views.member_update, name="member_update"),
    path(
        "t/<slug:slug>/invitations/<int:pk>/withdraw/",
        views.invitation_withdraw,
        name="invitation_withdraw",
    ),
    path("invitations/<int:pk>/", views.invitation_respond, name="invitation_respond"),
    path("", include("constitutions.urls")),
    path("", include("api.urls")),
]

# Apps that are still growing register their URLs only once they exist.
for _app in ("training", "labelling"):
    try:
        urlpatterns.append(path("", include(f"{_app}.urls")))
    except ModuleNotFoundError as _exc:
        if _exc.name != f"{_app}.urls":
            raise
