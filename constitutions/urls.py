from django.urls import path, re_path

from . import views

urlpatterns = [
    path("t/<slug:slug>/constitutions/", views.constitution_list, name="constitution_list"),
    path(
        "t/<slug:slug>/constitutions/import/", views.constitution_import, name="constitution_import"
    ),
    path(
        "t/<slug:slug>/constitutions/settings/",
        views.constitution_settings,
        name="constitution_settings",
    ),
    path("constitutions/<int:pk>/", views.constitution_detail, name="constitution_detail"),
    path(
        "constitutions/<int:pk>/history/", views.constitution_history, name="constitution_history"
    ),
    path("constitutions/<int:pk>/diff/", views.constitution_diff, name="constitution_diff"),
    path("versions/<int:pk>/", views.version_detail, name="version_detail"),
    path("versions/<int:pk>/edit/", views.version_edit, name="version_edit"),
    path("versions/<int:pk>/publish/", views.version_publish, name="version_publish"),
    path("versions/<int:pk>/archive/", views.version_archive, name="version_archive"),
    path("versions/<int:pk>/discard/", views.version_discard, name="version_discard"),
    re_path(
        r"^versions/(?P<pk>[0-9]+)/export\.(?P<fmt>json|yaml)$",
        views.version_export,
        name="version_export",
    ),
    path(
        "versions/<int:pk>/probabilities/",
        views.version_probabilities,
        name="version_probabilities",
    ),
    path("versions/<int:pk>/categories/", views.category_add, name="category_add"),
    path("categories/<int:pk>/", views.category_update, name="category_update"),
    path("categories/<int:pk>/delete/", views.category_delete, name="category_delete"),
    path("versions/<int:pk>/principles/", views.principle_add, name="principle_add"),
    path("principles/<int:pk>/", views.principle_update, name="principle_update"),
    path("principles/<int:pk>/delete/", views.principle_delete, name="principle_delete"),
    path("principles/<int:pk>/move/", views.principle_move, name="principle_move"),
    path("versions/<int:pk>/few-shots/", views.few_shot_add, name="few_shot_add"),
    path("few-shots/<int:pk>/", views.few_shot_update, name="few_shot_update"),
    path("few-shots/<int:pk>/delete/", views.few_shot_delete, name="few_shot_delete"),
    path("versions/<int:pk>/cases/", views.case_add, name="case_add"),
    path("cases/<int:pk>/", views.case_update, name="case_update"),
    path("cases/<int:pk>/delete/", views.case_delete, name="case_delete"),
]
