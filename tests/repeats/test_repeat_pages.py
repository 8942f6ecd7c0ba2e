"""A repeat's pages: the review queue side by side, decision notes, who may decide, the banner on
a record under review, "last time we learned …", and switching detection off for imports."""

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments.models import Experiment
from learninghub.insights.repeats.models import CandidateStatus, RepeatCandidate, RepeatDecision
from learninghub.insights.repeats.tasks import detect_repeat
from postmortems.models import PostMortem
from tests.factories.experiments import ExperimentFactory, LessonFactory
from tests.factories.postmortems import ActionItemFactory, PostMortemFactory
from tests.kernel.test_settings import settings_in_subprocess
from tests.postmortems.helpers import form_data

pytestmark = pytest.mark.django_db

NOW = timezone.now()
MARKDOWN = """## Post-Mortem: Feature pipeline failure
### What Happened
- The nightly feature job wrote an empty partition
### Root Cause
- Partition dates computed in local time
### What Went Well
- Rollback worked
### Action Items
1. Compute partitions in UTC
### Lessons for Team
- Validate partitions before training
"""


@pytest.fixture
def earlier(team):
    experiment = ExperimentFactory(team=team, failed=True, title="Two-tower retrieval with in-batch negatives",
                                   hypothesis="In-batch negatives improve recall of the two-tower retrieval model",
                                   error_type="torch.OutOfMemoryError", started_at=NOW - dt.timedelta(days=60))
    LessonFactory(experiment=experiment, text="Sample negatives per batch, not per epoch")
    return experiment


@pytest.fixture
def pending(team, earlier, settings):
    settings.REPEAT_AUTO_LINK_THRESHOLD = 1.01  # nothing links by itself: it waits for a lead
    later = ExperimentFactory(team=team, failed=True, title=earlier.title + " v2", hypothesis=earlier.hypothesis,
                              started_at=NOW - dt.timedelta(days=5))
    detect_repeat.delay("experiment", later.pk)
    candidate = RepeatCandidate.objects.get(experiment=later)
    assert candidate.status == CandidateStatus.PENDING
    return candidate


def test_the_queue_shows_both_records_side_by_side_with_what_matched(lead_client, pending, earlier):
    page = lead_client.get(reverse("repeats:queue")).content.decode()
    card = page[page.index(f'id="candidate-{pending.pk}"'):]
    assert earlier.title in card and pending.experiment.title in card
    assert earlier.hypothesis in card and "torch.OutOfMemoryError" in card
    assert "Sample negatives per batch, not per epoch" in card, "the earlier record's lessons"
    assert pending.matched_terms and all(f'<code class="term">{term}</code>' in card
                                         for term in pending.matched_terms)
    assert "similarity score" in card, "the detector's reasons from its decision note"
    assert "decided by the similarity model" in card


def test_a_lead_leaves_a_decision_note(lead_client, lead, pending):
    lead_client.post(reverse("repeats:decide", args=[pending.pk, "reject"]),
                     {"note": "  Different cause:   this one was a label bug. "})
    decision = RepeatDecision.objects.filter(candidate=pending).first()
    assert (decision.to_status, decision.by, decision.note) == (
        CandidateStatus.REJECTED, lead, "Different cause: this one was a label bug.")
    page = lead_client.get(reverse("repeats:queue") + "?view=decided").content.decode()
    assert "Different cause: this one was a label bug." in page


def test_a_too_long_note_is_refused_and_nothing_is_decided(lead_client, pending):
    response = lead_client.post(reverse("repeats:decide", args=[pending.pk, "confirm"]), {"note": "x" * 301},
                                follow=True)
    assert "Keep the note under 300 characters" in response.content.decode()
    pending.refresh_from_db()
    assert pending.status == CandidateStatus.PENDING


def test_a_member_sees_why_they_cannot_decide_and_who_can(member_client, lead, pending):
    lead.first_name, lead.last_name = "Leona", "Park"
    lead.save()
    page = member_client.get(reverse("repeats:queue")).content.decode()
    assert "Confirm repeat" not in page
    assert "only leads of Recommendations (or staff) confirm or reject" in page
    assert "Ask Leona Park" in page


def test_a_record_under_review_says_so_on_its_page(member_client, lead, pending, earlier):
    page = member_client.get(pending.experiment.get_absolute_url()).content.decode()
    assert "Under review: this may repeat an earlier failure." in page
    assert earlier.get_absolute_url() in page
    assert f"({lead.get_full_name()})" in page, "who decides"
    assert "If it is a repeat: last time we learned" in page
    assert "Sample negatives per batch, not per epoch" in page
    assert "Under review" not in member_client.get(earlier.get_absolute_url()).content.decode()


def test_a_lead_sees_a_review_link_in_the_banner(lead_client, pending):
    page = lead_client.get(pending.experiment.get_absolute_url()).content.decode()
    assert f"#candidate-{pending.pk}" in page and "Review it" in page


def test_the_banner_never_reveals_a_restricted_earlier_post_mortem(client, outsider, team, settings):
    settings.REPEAT_AUTO_LINK_THRESHOLD = 1.01
    secret = PostMortemFactory(team=team, restricted=True, title="Payments key leaked in the repository",
                               what_happened="- The payments key was committed",
                               root_cause="- Key kept in the repository", occurred_at=NOW - dt.timedelta(days=30))
    later = ExperimentFactory(team=team, failed=True, title="Payments key leaked in the repository",
                              hypothesis="The payments key was committed to the repository",
                              started_at=NOW - dt.timedelta(days=1))
    detect_repeat.delay("experiment", later.pk)
    assert RepeatCandidate.objects.get(experiment=later).earlier == secret
    client.force_login(outsider)
    page = client.get(later.get_absolute_url()).content.decode()
    assert "Under review" not in page and secret.get_absolute_url() not in page


def test_last_time_we_learned_on_a_repeated_post_mortem(member_client, team):
    first = PostMortemFactory(team=team, title="Feature pipeline failure", occurred_at=NOW - dt.timedelta(days=90))
    LessonFactory(postmortem=first, experiment=None, text="Validate partitions before training")
    ActionItemFactory(postmortem=first, description="Compute partitions in UTC", done=True)
    ActionItemFactory(postmortem=first, description="Alert on empty partitions", overdue=True)
    ActionItemFactory(postmortem=first, description="Document the backfill",
                      due_date=timezone.localdate() + dt.timedelta(days=10))
    later = PostMortemFactory(team=team, title="Feature pipeline failure again", repeat_of=first)
    page = member_client.get(later.get_absolute_url()).content.decode()
    section = page[page.index('id="last-time"'):]
    assert "Last time we learned" in section and first.get_absolute_url() in section
    assert "Validate partitions before training" in section
    states = {description: section[section.index(description):].split("</tr>")[0]
              for description in ("Compute partitions in UTC", "Alert on empty partitions", "Document the backfill")}
    assert ">done<" in states["Compute partitions in UTC"]
    assert ">overdue<" in states["Alert on empty partitions"]
    assert ">open<" in states["Document the backfill"]


def test_last_time_we_learned_on_a_repeated_experiment(member_client, team, earlier):
    review = PostMortemFactory(team=team, experiment=earlier, title="Retrieval OOM review")
    ActionItemFactory(postmortem=review, description="Cap the batch size by GPU memory", overdue=True)
    later = ExperimentFactory(team=team, failed=True, title="Two-tower retrieval again", repeat_of=earlier,
                              started_at=NOW - dt.timedelta(days=3))
    page = member_client.get(later.get_absolute_url()).content.decode()
    section = page[page.index('id="last-time"'):]
    assert "Sample negatives per batch, not per epoch" in section
    assert "Cap the batch size by GPU memory" in section and ">overdue<" in section


def test_a_confirmed_repeat_of_the_other_kind_shows_what_the_earlier_one_taught(lead_client, team, settings):
    settings.REPEAT_AUTO_LINK_THRESHOLD = 1.01
    crashed = ExperimentFactory(team=team, failed=True, title="Settlement batch failed",
                                hypothesis="The bank rotated the SFTP host key; known_hosts pinned the old one",
                                started_at=NOW - dt.timedelta(days=40))
    LessonFactory(experiment=crashed, text="Fetch the bank's host key from its published fingerprint")
    incident = PostMortemFactory(team=team, title="Settlement batch failed",
                                 root_cause="- The bank rotated its SFTP host key; known_hosts pinned the old one",
                                 occurred_at=NOW - dt.timedelta(days=2))
    detect_repeat.delay("postmortem", incident.pk)
    candidate = RepeatCandidate.objects.get(postmortem=incident)
    assert candidate.earlier == crashed and candidate.is_cross_kind
    lead_client.post(reverse("repeats:decide", args=[candidate.pk, "confirm"]), {"note": "Same host key"})
    page = lead_client.get(incident.get_absolute_url()).content.decode()
    assert "A lead confirmed this repeats the experiment" in page
    assert "Fetch the bank&#x27;s host key from its published fingerprint" in page


# --- detect_repeats=false ------------------------------------------------------------------


@pytest.fixture
def queued():
    with mock.patch("learninghub.insights.repeats.tasks.enqueue_durably") as enqueue:
        yield enqueue


def test_api_experiment_create_and_upsert_with_detection_off(member_api, team, earlier, queued,
                                                             django_capture_on_commit_callbacks):
    body = {"team": team.slug, "title": earlier.title, "hypothesis": earlier.hypothesis, "outcome": "failure",
            "failure_kind": "productive", "started_at": (NOW - dt.timedelta(days=2)).isoformat(),
            "ended_at": (NOW - dt.timedelta(days=1)).isoformat(), "detect_repeats": False}
    with django_capture_on_commit_callbacks(execute=True):
        created = member_api.post("/api/v1/experiments/", body, format="json")
        upserted = member_api.post("/api/v1/experiments/", {**body, "external_id": "run-1"}, format="json")
        again = member_api.post("/api/v1/experiments/", {**body, "external_id": "run-1"}, format="json")
    assert (created.status_code, upserted.status_code, again.status_code) == (201, 201, 200)
    assert "detect_repeats" not in created.json(), "write-only: not stored, not returned"
    assert not queued.called
    assert not Experiment.objects.filter(repeat_of__isnull=False).exists()
    assert not RepeatCandidate.objects.exists()


def test_api_experiment_create_detects_by_default(member_api, team, earlier, queued,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_api.post("/api/v1/experiments/", {
            "team": team.slug, "title": earlier.title, "hypothesis": earlier.hypothesis, "outcome": "failure",
            "failure_kind": "productive", "started_at": (NOW - dt.timedelta(days=2)).isoformat()}, format="json")
    assert response.status_code == 201
    assert [call.args[1:] for call in queued.call_args_list] == [("experiment", response.json()["id"])]


def test_api_postmortem_create_and_markdown_import_with_detection_off(member_api, team, queued,
                                                                      django_capture_on_commit_callbacks):
    PostMortemFactory(team=team, title="Feature pipeline failure", occurred_at=NOW - dt.timedelta(days=90))
    with django_capture_on_commit_callbacks(execute=True):
        created = member_api.post("/api/v1/postmortems/", {
            "team": team.slug, "title": "Feature pipeline failure", "what_happened": "- It broke again",
            "detect_repeats": False}, format="json")
        imported = member_api.post("/api/v1/postmortems/import-markdown/", {
            "team": team.slug, "markdown": MARKDOWN, "detect_repeats": False}, format="json")
    assert (created.status_code, imported.status_code) == (201, 201)
    assert not queued.called
    assert not PostMortem.objects.filter(repeat_of__isnull=False).exists()
    assert not RepeatCandidate.objects.exists()


def test_api_markdown_import_detects_by_default(member_api, team, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        imported = member_api.post("/api/v1/postmortems/import-markdown/", {"team": team.slug, "markdown": MARKDOWN},
                                   format="json")
    assert imported.status_code == 201
    assert [call.args[1:] for call in queued.call_args_list] == [("postmortem", imported.json()["postmortem"]["id"])]


def test_markdown_import_page_with_detection_off_links_and_queues_nothing(member_client, team, queued,
                                                                          django_capture_on_commit_callbacks):
    PostMortemFactory(team=team, title="Feature pipeline failure", occurred_at=NOW - dt.timedelta(days=90))
    prefilled = member_client.post(reverse("postmortems:import"), {
        "team": team.pk, "markdown": MARKDOWN, "skip_repeat_detection": "on"})
    assert prefilled.status_code == 200
    html = prefilled.content.decode()
    assert '<input type="hidden" name="detect_repeats" value="false">' in html
    assert "Repeat detection is off" in html
    data = form_data(team=team, title="Feature pipeline failure", detect_repeats="false")
    with django_capture_on_commit_callbacks(execute=True):
        saved = member_client.post(reverse("postmortems:create"), data)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert not queued.called
    assert not RepeatCandidate.objects.exists()


def test_markdown_import_page_keeps_detection_on_by_default(member_client, team):
    prefilled = member_client.post(reverse("postmortems:import"), {"team": team.pk, "markdown": MARKDOWN})
    assert 'name="detect_repeats"' not in prefilled.content.decode()


def test_thresholds_come_from_the_environment():
    result = settings_in_subprocess({"DEBUG": "1", "REPEAT_AUTO_LINK_THRESHOLD": "0.9",
                                     "REPEAT_REVIEW_THRESHOLD": "0.6"},
                                    "s.REPEAT_AUTO_LINK_THRESHOLD, s.REPEAT_REVIEW_THRESHOLD")
    assert result.stdout.strip() == "(0.9, 0.6)", result.stderr
    for review in ("0.95", "high"):
        refused = settings_in_subprocess({"DEBUG": "1", "REPEAT_AUTO_LINK_THRESHOLD": "0.9",
                                          "REPEAT_REVIEW_THRESHOLD": review}, "s.REPEAT_REVIEW_THRESHOLD")
        assert refused.returncode != 0 and "REPEAT_REVIEW_THRESHOLD" in refused.stderr


def test_a_team_without_a_lead_says_so(member_client, pending):
    page = member_client.get(reverse("repeats:queue")).content.decode()
    assert "and the team has no lead yet" in page
