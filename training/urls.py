from django.urls import path, re_path

from . import views, views_rlcai

urlpatterns = [
    path("t/<slug:slug>/runs/", views.run_list, name="run_list"),
    path("t/<slug:slug>/runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("t/<slug:slug>/runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("t/<slug:slug>/runs/<int:pk>/resume/", views.run_resume, name="run_resume"),
    path("t/<slug:slug>/runs/<int:pk>/results/", views.run_results, name="run_results"),
    path("t/<slug:slug>/runs/<int:pk>/stats/", views.run_stats, name="run_stats"),
    re_path(
        r"^t/(?P<slug>[-\w]+)/runs/(?P<pk>[0-9]+)/export/(?P<fmt>trl\.jsonl|datasets\.zip|provenance\.json)$",
        views.run_export,
        name="run_export",
    ),
    path("t/<slug:slug>/runs/launch/<slug:kind>/", views_rlcai.stage_launch, name="stage_launch"),
    path("t/<slug:slug>/lineage/<int:version_pk>/", views_rlcai.lineage, name="lineage"),
    path("t/<slug:slug>/prompt-sets/", views.promptset_list, name="promptset_list"),
    path("t/<slug:slug>/prompt-sets/<int:pk>/", views.promptset_detail, name="promptset_detail"),
    path("t/<slug:slug>/models/", views.model_list, name="model_list"),
]
