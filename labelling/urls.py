from django.urls import path

from . import views

urlpatterns = [
    path("t/<slug:slug>/labels/", views.labelset_list, name="labelset_list"),
    path("t/<slug:slug>/labels/import/", views.labelset_import, name="labelset_import"),
    path("t/<slug:slug>/labels/settings/", views.audit_settings, name="labelling_settings"),
    path("t/<slug:slug>/labels/<int:pk>/", views.labelset_detail, name="labelset_detail"),
    path("t/<slug:slug>/labels/<int:pk>/stats/", views.labelset_stats, name="labelset_stats"),
    path(
        "t/<slug:slug>/labels/<int:pk>/comparisons/<int:cid>/",
        views.comparison_detail,
        name="comparison_detail",
    ),
    path(
        "t/<slug:slug>/labels/<int:pk>/export.<str:fmt>",
        views.labelset_export,
        name="labelset_export",
    ),
    path("t/<slug:slug>/labels/<int:pk>/decide/", views.labelset_decide, name="labelset_decide"),
    path("t/<slug:slug>/labels/<int:pk>/queues/new/", views.queue_create, name="queue_create"),
    path("t/<slug:slug>/labels/<int:pk>/sample-size/", views.sample_size, name="sample_size"),
    path("t/<slug:slug>/jobs/<int:pk>/", views.filejob_detail, name="filejob_detail"),
    path("t/<slug:slug>/jobs/<int:pk>/cancel/", views.filejob_cancel, name="filejob_cancel"),
    path("t/<slug:slug>/jobs/<int:pk>/download/", views.filejob_download, name="filejob_download"),
    path("t/<slug:slug>/queues/<int:pk>/", views.queue_detail, name="queue_detail"),
    path("t/<slug:slug>/queues/<int:pk>/rebuild/", views.queue_rebuild, name="queue_rebuild"),
    path("t/<slug:slug>/queues/<int:pk>/next/", views.review_next, name="review_next"),
    path(
        "t/<slug:slug>/queues/<int:pk>/items/<int:position>/", views.review_item, name="review_item"
    ),
]
