from django.urls import path, re_path

from .views import catalog, mining, results, runs

urlpatterns = [
    path("t/<slug:slug>/runs/", runs.run_list, name="run_list"),
    path("t/<slug:slug>/runs/compare/", runs.run_compare, name="run_compare"),
    path("t/<slug:slug>/runs/launch/<slug:kind>/", runs.run_launch, name="run_launch"),
    path("t/<slug:slug>/runs/<int:pk>/", runs.run_detail, name="run_detail"),
    path("t/<slug:slug>/runs/<int:pk>/logs/", runs.run_logs, name="run_logs"),
    path("t/<slug:slug>/runs/<int:pk>/cancel/", runs.run_cancel, name="run_cancel"),
    path("t/<slug:slug>/runs/<int:pk>/resume/", runs.run_resume, name="run_resume"),
    path("t/<slug:slug>/runs/<int:pk>/results/", results.run_results, name="run_results"),
    path("t/<slug:slug>/runs/<int:pk>/stats/", results.run_stats, name="run_stats"),
    path("t/<slug:slug>/runs/<int:pk>/candidates/", mining.run_candidates, name="run_candidates"),
    path(
        "t/<slug:slug>/runs/<int:pk>/candidates/<int:index>/add/",
        mining.candidate_add,
        name="candidate_add",
    ),
    re_path(
        r"^t/(?P<slug>[-\w]+)/runs/(?P<pk>[0-9]+)/export/(?P<fmt>trl\.jsonl|datasets\.zip|provenance\.json)$",
        results.run_export,
        name="run_export",
    ),
    path("t/<slug:slug>/lineage/<int:version_pk>/", runs.lineage, name="lineage"),
    path("t/<slug:slug>/prompt-sets/", catalog.promptset_list, name="promptset_list"),
    path("t/<slug:slug>/prompt-sets/<int:pk>/", catalog.promptset_detail, name="promptset_detail"),
    path("t/<slug:slug>/models/", catalog.model_list, name="model_list"),
    path("t/<slug:slug>/models/<int:pk>/", catalog.model_detail, name="model_detail"),
]
