"""The constitution screens through the test client: editor, htmx partials, conflicts,
publish, diff, history, export and import."""

from __future__ import annotations

import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from constitutions import selectors, services
from constitutions.content import DEMO_CONSTITUTION, ConstitutionContent
from constitutions.models import ChangeEvent, Constitution, ConstitutionVersion, Principle
from tests.factories import published_demo_version

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def draft(team, author) -> ConstitutionVersion:
    return services.constitution_create(
        team=team, user=author, name="Demo", content=DEMO_CONSTITUTION
    )


@pytest.fixture
def authoring(client_for, author):
    return client_for(author)


def _page(client, version) -> str:
    response = client.get(reverse("version_detail", args=[version.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _row_version(html: str) -> int:
    return int(re.search(r'name="row_version" value="(\d+)"', html).group(1))


def _live_hash(version) -> str:
    return selectors.version_content(selectors.version_with_content(version.pk)).content_hash()


# --- list and create ------------------------------------------------------------------


def test_creating_a_constitution_makes_a_v1_draft_with_the_default_categories(authoring, team):
    response = authoring.post(
        reverse("constitution_list", args=[team.slug]), {"name": "House rules"}
    )
    version = ConstitutionVersion.objects.get(constitution__name="House rules")
    assert response.status_code == 302 and response["Location"] == reverse(
        "version_detail", args=[version.pk]
    )
    assert [c.name for c in version.categories.all()] == [
        "Broadly safe",
        "Broadly ethical",
        "Guidelines",
        "Genuinely helpful",
    ]
    html = authoring.get(reverse("constitution_list", args=[team.slug])).content.decode()
    assert "House rules" in html and "v1" in html


def test_a_duplicate_name_is_shown_next_to_the_name_field(authoring, team, draft):
    response = authoring.post(reverse("constitution_list", args=[team.slug]), {"name": "Demo"})
    assert response.status_code == 422
    assert re.search(
        r'id="id_name".*?class="errorlist".*?already has a constitution',
        response.content.decode(),
        re.S,
    )


def test_constitution_detail_redirects_to_the_latest_version(authoring, team, author):
    published = published_demo_version(team, author)
    draft, _ = services.version_draft_from(version=published, user=author)
    response = authoring.get(reverse("constitution_detail", args=[published.constitution_id]))
    assert response["Location"] == reverse("version_detail", args=[draft.pk])


# --- the version page -----------------------------------------------------------------


def test_the_version_page_shows_header_categories_principles_and_probabilities(authoring, draft):
    html = _page(authoring, draft)
    assert "Demo v1" in html and 'class="badge draft"' in html
    assert 'id="content-hash"' in html and _live_hash(draft)[:12] in html
    for principle in DEMO_CONSTITUTION.principles:
        assert principle.key in html
    assert 'id="probability-table"' in html and 'id="probability-chart"' in html
    assert 'role="img"' in html and "<title" in html
    assert "Broadly safe (total)" in html
    assert "Publish" in html and 'name="changelog"' in html


def test_the_version_page_runs_the_same_number_of_queries_for_any_size(
    authoring, team, author, draft
):
    small = services.constitution_create(
        team=team,
        user=author,
        name="Small",
        content=ConstitutionContent(DEMO_CONSTITUTION.categories, DEMO_CONSTITUTION.principles[:1]),
    )
    counts = []
    for version in (small, draft):
        with CaptureQueriesContext(connection) as queries:
            _page(authoring, version)
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] < 25


def test_user_text_is_escaped_everywhere(authoring, draft, author):
    principle = draft.principles.get(key="honesty")
    services.principle_update(
        principle=principle,
        user=author,
        expected_row_version=principle.row_version,
        critique_request="<script>alert('x')</script> & more",
    )
    html = _page(authoring, draft)
    assert "<script>alert" not in html and "&lt;script&gt;alert(" in html
    services.version_publish(version=draft, user=author)
    v2, _ = services.version_draft_from(version=draft, user=author)
    principle = v2.principles.get(key="honesty")
    services.principle_update(
        principle=principle,
        user=author,
        expected_row_version=principle.row_version,
        critique_request="<b>bold</b> claims",
    )
    diff = authoring.get(
        reverse("constitution_diff", args=[draft.constitution_id])
    ).content.decode()
    assert "<script>" not in diff and "<b>" not in diff
    # The word diff splits the markup into tokens, each one escaped inside <ins>/<del>.
    assert "&lt;" in diff and "&gt;" in diff and "<ins>" in diff and "<del>" in diff


def test_a_published_version_renders_read_only_with_an_edit_button(authoring, team, author):
    published = published_demo_version(team, author)
    html = _page(authoring, published)
    assert "Edit (creates a new draft)" in html
    assert 'name="weight"' not in html and "Add a principle" not in html and ">Publish<" not in html
    assert published.short_hash in html


def test_edit_creates_a_new_draft_and_redirects_to_it(authoring, team, author):
    published = published_demo_version(team, author)
    response = authoring.post(reverse("version_edit", args=[published.pk]))
    draft = ConstitutionVersion.objects.get(constitution=published.constitution, number=2)
    assert response["Location"] == reverse("version_detail", args=[draft.pk])
    assert draft.parent == published
    html = _page(authoring, draft)
    assert 'href="{}"'.format(reverse("version_detail", args=[published.pk])) in html


def test_a_viewer_sees_the_draft_without_edit_controls(client_for, viewer, draft):
    html = _page(client_for(viewer), draft)
    assert "Publish" not in html and 'name="weight"' not in html and "honesty" in html


# --- htmx editing ---------------------------------------------------------------------


def test_a_weight_change_over_htmx_returns_the_row_and_out_of_band_table_chart_and_hash(
    authoring, draft
):
    principle = draft.principles.get(key="honesty")
    before = _live_hash(draft)
    response = authoring.post(
        reverse("principle_update", args=[principle.pk]),
        {"weight": "4", "row_version": principle.row_version},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    assert html.lstrip().startswith(f'<article class="principle" id="principle-{principle.pk}"')
    assert re.search(r'<section id="probabilities" class="card" hx-swap-oob="true">', html)
    assert 'id="probability-chart"' in html
    after = _live_hash(draft)
    assert after != before and '<code id="content-hash"' in html and after[:12] in html
    principle.refresh_from_db()
    assert principle.weight == 4 and principle.row_version == 2
    # honesty now has 4/6 of "Broadly ethical", which has 2/8 of the draws: 16.7%.
    assert re.search(
        r'data-key="honesty"><td><code>honesty</code></td><td>Broadly ethical</td><td class="num">16.7%',
        html,
    )


def test_unticking_enabled_disables_the_principle_and_updates_probabilities(authoring, draft):
    principle = draft.principles.get(key="honesty")
    response = authoring.post(
        reverse("principle_update", args=[principle.pk]),
        {"weight": "1.0", "enabled": "false", "row_version": principle.row_version},
        **HTMX,
    )
    assert response.status_code == 200
    principle.refresh_from_db()
    assert principle.enabled is False
    assert re.search(
        r"<td><code>honesty</code></td><td>Broadly ethical</td><td class=\"num\">0.0%",
        response.content.decode(),
    )


def test_a_non_htmx_post_redirects_back_to_the_version_page_with_a_message(authoring, draft):
    principle = draft.principles.get(key="honesty")
    response = authoring.post(
        reverse("principle_update", args=[principle.pk]),
        {"weight": "2", "row_version": principle.row_version},
    )
    assert (
        response["Location"]
        == reverse("version_detail", args=[draft.pk]) + f"#principle-{principle.pk}"
    )
    assert "Saved principle" in authoring.get(response["Location"]).content.decode()


def test_the_edit_form_partial_comes_back_for_htmx_get(authoring, draft):
    principle = draft.principles.get(key="honesty")
    html = authoring.get(reverse("principle_update", args=[principle.pk]), **HTMX).content.decode()
    assert html.lstrip().startswith(f'<article class="principle" id="principle-{principle.pk}"')
    assert 'name="critique_request"' in html and _row_version(html) == principle.row_version
    assert "<html" not in html
    full = authoring.get(reverse("principle_update", args=[principle.pk])).content.decode()
    assert "<html" in full and 'name="critique_request"' in full


def test_a_full_edit_saves_every_field_and_can_move_the_principle_to_another_category(
    authoring, draft
):
    principle = draft.principles.get(key="honesty")
    helpful = draft.categories.get(name="Genuinely helpful")
    response = authoring.post(
        reverse("principle_update", args=[principle.pk]),
        {
            "key": "truthfulness",
            "category": helpful.pk,
            "critique_request": "Find false claims.",
            "revision_request": "Fix them.",
            "comparison_question": "Which is truer?",
            "weight": "2",
            "enabled": "false",
            "row_version": principle.row_version,
        },
        **HTMX,
    )
    assert response.status_code == 200 and response["HX-Retarget"] == "#editor"
    principle.refresh_from_db()
    assert (principle.key, principle.category, principle.weight, principle.enabled) == (
        "truthfulness",
        helpful,
        2.0,
        False,
    )


def test_validation_errors_appear_next_to_the_field(authoring, draft):
    principle = draft.principles.get(key="honesty")
    category = principle.category
    response = authoring.post(
        reverse("principle_add", args=[draft.pk]),
        {
            "key": "fairness",
            "category": category.pk,
            "critique_request": "c",
            "revision_request": "r",
            "weight": "1",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert re.search(
        r'name="key"[^>]*value="fairness".*?class="errorlist"[^>]*><li>.*?already has a principle',
        html,
        re.S,
    )
    response = authoring.post(
        reverse("principle_update", args=[principle.pk]), {"weight": "-1", "row_version": 1}, **HTMX
    )
    assert response.status_code == 422
    assert re.search(
        r"field-weight.*?errorlist.*?greater than or equal to 0", response.content.decode(), re.S
    )
    assert Principle.objects.get(pk=principle.pk).weight == 1.0


def test_adding_categories_and_principles_and_moving_and_deleting_them(authoring, draft):
    response = authoring.post(
        reverse("category_add", args=[draft.pk]),
        {"name": "Privacy", "description": "", "weight": "2", "priority": "5"},
        **HTMX,
    )
    assert response.status_code == 200 and 'id="editor"' in response.content.decode()
    privacy = draft.categories.get(name="Privacy")
    for key in ("pii", "tracking"):
        authoring.post(
            reverse("principle_add", args=[draft.pk]),
            {
                "key": key,
                "category": privacy.pk,
                "critique_request": "c",
                "revision_request": "r",
                "comparison_question": "q",
                "weight": "1",
                "enabled": "on",
            },
        )
    assert list(privacy.principles.values_list("key", flat=True)) == ["pii", "tracking"]
    tracking = Principle.objects.get(key="tracking")
    authoring.post(
        reverse("principle_move", args=[tracking.pk]),
        {"direction": "up", "row_version": tracking.row_version},
        **HTMX,
    )
    assert list(privacy.principles.order_by("order").values_list("key", flat=True)) == [
        "tracking",
        "pii",
    ]
    response = authoring.post(
        reverse("category_delete", args=[privacy.pk]), {"row_version": privacy.row_version}, **HTMX
    )
    assert response.status_code == 409 and "still has 2 principle" in response.content.decode()
    for p in privacy.principles.all():
        authoring.post(reverse("principle_delete", args=[p.pk]), {"row_version": p.row_version})
    response = authoring.post(
        reverse("category_delete", args=[privacy.pk]), {"row_version": privacy.row_version}
    )
    assert response.status_code == 302 and not draft.categories.filter(name="Privacy").exists()


def test_a_category_weight_change_updates_its_head_and_the_probabilities(authoring, draft):
    category = draft.categories.get(name="Broadly safe")
    response = authoring.post(
        reverse("category_update", args=[category.pk]),
        {"weight": "0", "row_version": category.row_version},
        **HTMX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith(f'<div class="category-head" id="category-head-{category.pk}"')
    assert "hx-swap-oob" in html and 'Broadly safe (total)</th><td class="num">0.0%' in html


def test_few_shot_examples_can_be_added_edited_and_deleted(authoring, draft):
    fields = dict(
        prompt="p",
        response="r",
        critique_request="cr",
        critique="c",
        revision_request="rr",
        revision="rev",
    )
    response = authoring.post(reverse("few_shot_add", args=[draft.pk]), fields, **HTMX)
    assert response.status_code == 200 and 'id="few-shots"' in response.content.decode()
    example = draft.few_shots.order_by("-order").first()
    assert example.prompt == "p"
    response = authoring.post(
        reverse("few_shot_update", args=[example.pk]),
        {**fields, "prompt": "better", "row_version": example.row_version},
    )
    assert response.status_code == 302
    example.refresh_from_db()
    assert example.prompt == "better"
    authoring.post(
        reverse("few_shot_delete", args=[example.pk]), {"row_version": example.row_version}
    )
    assert not draft.few_shots.filter(pk=example.pk).exists()


def test_the_probability_partial_renders_alone_and_says_when_nothing_can_be_drawn(
    authoring, team, author, draft
):
    html = authoring.get(reverse("version_probabilities", args=[draft.pk])).content.decode()
    assert html.lstrip().startswith('<section id="probabilities"') and "honesty" in html
    empty = services.constitution_create(team=team, user=author, name="Empty")
    html = authoring.get(reverse("version_probabilities", args=[empty.pk])).content.decode()
    assert "Probabilities are unavailable" in html and "no principles" in html


# --- optimistic locking ---------------------------------------------------------------


def test_two_people_editing_the_same_principle_get_a_conflict_not_a_lost_update(
    client_for, author, owner, draft
):
    principle = draft.principles.get(key="honesty")
    alice, bob = client_for(author), client_for(owner)
    url = reverse("principle_update", args=[principle.pk])
    form_a = alice.get(url, **HTMX).content.decode()
    form_b = bob.get(url, **HTMX).content.decode()
    base = {
        "key": "honesty",
        "category": principle.category_id,
        "revision_request": principle.revision_request,
        "comparison_question": principle.comparison_question,
        "weight": "1",
        "enabled": "on",
    }
    response = alice.post(
        url,
        {**base, "critique_request": "Alice's critique.", "row_version": _row_version(form_a)},
        **HTMX,
    )
    assert response.status_code == 200
    response = bob.post(
        url,
        {**base, "critique_request": "Bob's critique.", "row_version": _row_version(form_b)},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert 'class="conflict"' in html and "changed by someone else" in html
    assert (
        "critique request" in html and "Alice&#x27;s critique." in html
    )  # what changed, saved text
    assert re.search(
        r'name="critique_request"[^>]*>\s*Bob&#x27;s critique\.</textarea>', html
    )  # Bob's input kept
    assert "arthur" in html  # who made the saved change
    principle.refresh_from_db()
    assert principle.critique_request == "Alice's critique."
    # Bob's form now carries the current row_version: saving again is a deliberate overwrite.
    response = bob.post(
        url,
        {**base, "critique_request": "Bob's critique.", "row_version": _row_version(html)},
        **HTMX,
    )
    assert response.status_code == 200
    principle.refresh_from_db()
    assert principle.critique_request == "Bob's critique."


def test_a_stale_inline_weight_change_is_refused_with_a_conflict(client_for, author, owner, draft):
    principle = draft.principles.get(key="honesty")
    page_a, page_b = _page(client_for(author), draft), _page(client_for(owner), draft)
    url = reverse("principle_update", args=[principle.pk])
    client_for(author).post(url, {"weight": "3", "row_version": principle.row_version}, **HTMX)
    response = client_for(owner).post(url, {"weight": "5", "row_version": principle.row_version})
    assert response.status_code == 409
    html = response.content.decode()
    assert 'class="conflict"' in html and "weight" in html
    principle.refresh_from_db()
    assert principle.weight == 3
    assert page_a and page_b


# --- publish, archive, discard --------------------------------------------------------


def test_publish_shows_a_validation_summary_listing_every_problem(authoring, draft, author):
    # Rows the editor would refuse (half a request pair), written past the services as
    # rows from before a rule was added would be.
    draft.principles.filter(key__in=("honesty", "fairness")).update(revision_request="")
    response = authoring.post(reverse("version_publish", args=[draft.pk]), {"changelog": "try"})
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="publish-problems"' in html and "these 2 problems" in html
    summary = html.split('id="publish-problems"', 1)[1].split("</div>", 1)[0]
    assert summary.count("must not be empty when there is a critique request") == 2
    assert 'value="try"' in html
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_publish_freezes_the_draft_with_its_hash_and_changelog(authoring, draft):
    expected = _live_hash(draft)
    response = authoring.post(
        reverse("version_publish", args=[draft.pk]), {"changelog": "First cut"}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.content_hash, draft.changelog) == (
        "published",
        expected,
        "First cut",
    )
    assert "Published v1" in authoring.get(response["Location"]).content.decode()


def test_archive_and_discard(authoring, team, author):
    published = published_demo_version(team, author)
    authoring.post(reverse("version_archive", args=[published.pk]))
    published.refresh_from_db()
    assert published.status == "archived"
    draft, _ = services.version_draft_from(version=published, user=author)
    response = authoring.post(
        reverse("version_discard", args=[draft.pk]), {"row_version": draft.row_version}
    )
    assert response["Location"] == reverse("constitution_detail", args=[published.constitution_id])
    assert not ConstitutionVersion.objects.filter(pk=draft.pk).exists()


# --- diff and history -----------------------------------------------------------------


def test_the_diff_page_shows_word_changes_and_probability_changes(authoring, team, author):
    v1 = published_demo_version(team, author)
    v2, _ = services.version_draft_from(version=v1, user=author)
    honesty = v2.principles.get(key="honesty")
    services.principle_update(
        principle=honesty,
        user=author,
        expected_row_version=honesty.row_version,
        critique_request="Look for claims that are false.",
        weight=3,
    )
    response = authoring.get(
        reverse("constitution_diff", args=[v1.constitution_id])
    )  # defaults: parent -> latest
    # honesty: 2/8 of the draws go to Broadly ethical; its share there goes 1/3 -> 3/5.
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="diff-honesty"' in html and "weight 1.0 → 3.0" in html
    assert "<del>in the reply </del>" in html
    assert re.search(
        r"<code>honesty</code></td>\s*<td class=\"num\">8.3%</td>\s*<td class=\"num\">15.0%</td>",
        html,
    )
    same = authoring.get(
        reverse("constitution_diff", args=[v1.constitution_id]) + "?a=1&b=1"
    ).content.decode()
    assert 'id="no-differences"' in same
    assert (
        authoring.get(reverse("constitution_diff", args=[v1.constitution_id]) + "?a=7").status_code
        == 404
    )


def test_the_history_lists_every_change_newest_first(authoring, draft, author):
    principle = draft.principles.get(key="honesty")
    services.principle_update(
        principle=principle, user=author, expected_row_version=principle.row_version, weight=2
    )
    services.version_publish(version=draft, user=author, changelog="go")
    html = authoring.get(
        reverse("constitution_history", args=[draft.constitution_id])
    ).content.decode()
    summaries = [e.summary for e in ChangeEvent.objects.filter(constitution=draft.constitution)]
    positions = [html.index(s.replace("'", "&#x27;")) for s in summaries]
    assert positions == sorted(positions) and len(positions) == 3
    assert html.index("Published v1") < html.index("weight 1.0 → 2.0") < html.index("Created Demo")
    assert "arthur" in html


def test_the_dashboard_panel_lists_the_teams_constitutions(authoring, team, draft):
    html = authoring.get(reverse("team_dashboard", args=[team.slug])).content.decode()
    assert 'id="panel-constitutions"' in html
    assert (
        reverse("constitution_detail", args=[draft.constitution_id]) in html and "1 version" in html
    )


# --- export and import ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_an_export_imports_back_to_the_same_content_hash(authoring, team, author, fmt):
    published = published_demo_version(team, author)
    response = authoring.get(reverse("version_export", args=[published.pk, fmt]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="demo-v1.{fmt}"'
    data = b"".join(response) if response.streaming else response.content
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(f"demo-v1.{fmt}", data)
    response = authoring.post(
        reverse("constitution_import", args=[team.slug]), {"files": [upload], "name": "Copy"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    copy = ConstitutionVersion.objects.get(constitution__name="Copy")
    assert _live_hash(copy) == published.content_hash

    upload = SimpleUploadedFile(f"demo-v1.{fmt}", data)
    response = authoring.post(
        reverse("constitution_import", args=[team.slug]),
        {"files": [upload], "into": published.constitution_id},
    )
    v2 = ConstitutionVersion.objects.get(constitution=published.constitution, number=2)
    assert response["Location"] == reverse("version_detail", args=[v2.pk])
    assert v2.parent == published and _live_hash(v2) == published.content_hash


def test_importing_a_file_whose_name_is_taken_asks_for_another_name(authoring, team, author):
    published = published_demo_version(team, author)
    data = authoring.get(reverse("version_export", args=[published.pk, "json"])).content
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = authoring.post(
        reverse("constitution_import", args=[team.slug]),
        {"files": [SimpleUploadedFile("d.json", data)]},
    )
    assert response.status_code == 422 and "Choose another name" in response.content.decode()


def _bad_exports(published_json: bytes) -> dict[str, tuple[bytes, str]]:
    doc = json.loads(published_json)
    doc["principles"][1]["weight"] = float("nan")
    return {
        "malformed": (
            b'{"format": "cai_web.constitution",\n  "name": "x",\n  oops}',
            "line 3, column 3",
        ),
        "nan weight": (json.dumps(doc, allow_nan=True).encode(), "principles[1].weight"),
        "too large": (b"{" + b" " * 1_000_001 + b"}", "the limit is 1,000,000 bytes"),
        "not utf-8": (b'{"name": "caf\xe9"}', "not valid UTF-8"),
    }


@pytest.mark.parametrize("case", ["malformed", "nan weight", "too large", "not utf-8"])
def test_a_bad_import_shows_its_problem_and_imports_nothing(authoring, team, author, case):
    published = published_demo_version(team, author)
    data, message = _bad_exports(
        authoring.get(reverse("version_export", args=[published.pk, "json"])).content
    )[case]
    from django.core.files.uploadedfile import SimpleUploadedFile

    constitutions, versions = Constitution.objects.count(), ConstitutionVersion.objects.count()
    response = authoring.post(
        reverse("constitution_import", args=[team.slug]),
        {"files": [SimpleUploadedFile("bad.json", data)], "name": "Bad"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="import-problems"' in html and "Nothing was imported" in html
    assert message in html, html[html.index("import-problems") :][:800]
    assert (Constitution.objects.count(), ConstitutionVersion.objects.count()) == (
        constitutions,
        versions,
    )


def test_problems_from_several_files_come_as_one_list(authoring, team):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = authoring.post(
        reverse("constitution_import", args=[team.slug]),
        {
            "files": [
                SimpleUploadedFile("a.json", b"{oops"),
                SimpleUploadedFile("b.yaml", b"\xff\xfe"),
            ],
        },
    )
    html = response.content.decode()
    assert html.count('id="import-problems"') == 1
    assert "a.json: malformed JSON" in html and "b.yaml: not valid UTF-8" in html


# --- principle roles: labeller-only, critique-revision only -----------------------------


def _import_shared(
    authoring, team, folder: str, names: list[str]
) -> tuple[ConstitutionVersion, str]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import shared_data_dir

    base = shared_data_dir() / "constitutions" / folder
    files = [SimpleUploadedFile(n, (base / n).read_bytes()) for n in names]
    response = authoring.post(
        reverse("constitution_import", args=[team.slug]), {"files": files}, follow=True
    )
    assert response.status_code == 200
    version = ConstitutionVersion.objects.latest("pk")
    return version, response.content.decode()


@pytest.mark.usefixtures("shared_data")
def test_the_paper_import_shows_its_two_lists_of_principles_and_their_probabilities(
    authoring, team
):
    version, html = _import_shared(
        authoring,
        team,
        "anthropic-cai-paper",
        ["CritiqueRevisionInstructions.json", "RLMadisonInstructions.json"],
    )
    assert version.principles.count() == 32
    assert html.count(">labeller only</span>") == 16
    assert html.count(">critique-revision only</span>") == 16
    critique = html.split('id="probability-table"', 1)[1].split("</table>", 1)[0]
    labelling = html.split('id="labelling-probability-table"', 1)[1].split("</table>", 1)[0]
    assert "harmful0" in critique and "comparison0" not in critique
    assert "comparison0" in labelling and "harmful0" not in labelling
    assert labelling.count(">6.3%<") == 16  # 1/16 each
    assert 'id="labelling-fallback"' not in html


@pytest.mark.usefixtures("shared_data")
def test_an_llm_swarm_import_says_what_labelling_asks_instead(authoring, team):
    from constitutions.content import DEFAULT_COMPARISON_QUESTION

    version, html = _import_shared(authoring, team, "hf-llm-swarm", ["constitution_anthropic.json"])
    assert version.principles.filter(comparison_question="").count() == 16
    # The warning on import, the notice in the probabilities section, and each principle.
    assert "AI labelling of this constitution asks the default question" in html
    assert 'id="labelling-fallback"' in html
    assert html.count(DEFAULT_COMPARISON_QUESTION) >= 1 + 1 + 16
    # the version publishes: a principle without a comparison question is allowed
    response = authoring.post(reverse("version_publish", args=[version.pk]), {"changelog": "x"})
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == "published"


def test_the_editor_adds_a_labeller_only_principle_and_names_a_half_pair(authoring, draft):
    category = draft.categories.first()
    url = reverse("principle_add", args=[draft.pk])
    base = {"key": "kinder", "category": category.pk, "weight": "1", "enabled": "on"}
    response = authoring.post(url, {**base, "critique_request": "Critique it."}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 422
    assert "must not be empty when there is a critique request" in html
    assert not draft.principles.filter(key="kinder").exists()
    response = authoring.post(url, {**base, "comparison_question": "Which is kinder?"}, **HTMX)
    assert response.status_code == 200
    assert draft.principles.get(key="kinder").role == "labeller only"
    assert ">labeller only</span>" in _page(authoring, draft)
