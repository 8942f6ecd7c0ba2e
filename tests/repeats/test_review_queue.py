"""Repeat failures with a human in the loop: automatic links, the review queue, the rule fallback."""

import datetime as dt
from unittest import mock

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments import services as experiment_services
from experiments.models import Experiment
from learninghub.insights.repeats.models import CandidateStatus, RepeatCandidate, RepeatDecision
from learninghub.insights.repeats.selectors import overturn_stats
from learninghub.insights.repeats.tasks import detect_repeat
from learninghub.kernel.events import team_records_changed
from learninghub.kernel.outbox import enqueue_durably
from learninghub.kernel.periods import Month
from postmortems import services as postmortem_services
from postmortems.models import PostMortem
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


class BrokenSimilarity:
    """A similarity model that is down."""

    def scores(self, query, candidates):
        raise RuntimeError("model server unreachable")


@pytest.fixture
def signalled_months():
    calls = []

    def receiver(sender, team_id, months, **kwargs):
        calls.append((team_id, months))

    team_records_changed.connect(receiver, dispatch_uid="tests-repeats-signalled")
    yield calls
    team_records_changed.disconnect(dispatch_uid="tests-repeats-signalled")


def failed_experiment(team, title, hypothesis, days_ago, **extra):
    return ExperimentFactory(team=team, failed=True, title=title, hypothesis=hypothesis,
                             started_at=NOW - dt.timedelta(days=days_ago), **extra)


@pytest.fixture
def earlier(team):
    return failed_experiment(team, "Two-tower retrieval with in-batch negatives",
                             "In-batch negatives improve recall of the two-tower retrieval model", 60)


def test_a_near_identical_failure_is_linked_automatically_and_marked_so(team, earlier):
    later = failed_experiment(team, "Two-tower retrieval with in-batch negatives (retry)",
                              "In-batch negatives improve recall of the two-tower retrieval model", 5)
    detect_repeat.delay("experiment", later.pk)
    later.refresh_from_db()
    assert later.repeat_of == earlier
    assert later.repeat_link_source == "automatic"
    assert later.version == 2, "the link bumps the version so a stale edit form is refused"
    candidate = RepeatCandidate.objects.get(experiment=later)
    assert candidate.status == CandidateStatus.AUTO_LINKED and candidate.method == "similarity"


def test_an_uncertain_match_waits_for_a_lead(team, earlier, settings):
    settings.REPEAT_AUTO_LINK_THRESHOLD = 1.01  # nothing links by itself
    later = failed_experiment(team, "Two-tower retrieval, hard negatives",
                              "Hard negatives improve recall of the retrieval model", 5)
    detect_repeat.delay("experiment", later.pk)
    later.refresh_from_db()
    assert later.repeat_of is None
    assert RepeatCandidate.objects.get(experiment=later).status == CandidateStatus.PENDING


def test_unrelated_failures_and_other_teams_are_left_alone(team, other_team, earlier):
    unrelated = failed_experiment(team, "Learning-rate warmup for the ranking model",
                                  "A longer warmup stabilises ranking loss", 5)
    same_text_other_team = failed_experiment(other_team, earlier.title, earlier.hypothesis, 5)
    detect_repeat.delay("experiment", unrelated.pk)
    detect_repeat.delay("experiment", same_text_other_team.pk)
    assert not RepeatCandidate.objects.exists()


def test_detection_is_idempotent(team, earlier):
    later = failed_experiment(team, earlier.title, earlier.hypothesis, 5)
    detect_repeat.delay("experiment", later.pk)
    detect_repeat.delay("experiment", later.pk)
    assert RepeatCandidate.objects.count() == 1
    assert RepeatDecision.objects.count() == 1


def _record_failure(team, user, title, hypothesis, **options):
    started = NOW - dt.timedelta(days=5)
    return experiment_services.experiment_create(team=team, user=user, data={
        "title": title, "hypothesis": hypothesis, "started_at": started, "ended_at": started + dt.timedelta(hours=2),
        "outcome": "failure", "failure_kind": "system"}, **options)


def test_the_service_enqueues_detection_when_the_failure_commits(team, member, earlier,
                                                                 django_capture_on_commit_callbacks):
    with mock.patch("learninghub.insights.repeats.tasks.enqueue_durably", wraps=enqueue_durably) as queued:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            later = _record_failure(team, member, earlier.title, earlier.hypothesis)
        assert not queued.called, "nothing is enqueued before the transaction commits"
        for callback in callbacks:
            callback()
    assert [call.args[1:] for call in queued.call_args_list] == [("experiment", later.pk)]
    assert Experiment.objects.get(pk=later.pk).repeat_of == earlier


def test_a_plain_orm_save_enqueues_nothing(team, earlier, django_capture_on_commit_callbacks):
    """Detection follows the service, not ``post_save``."""
    with mock.patch("learninghub.insights.repeats.tasks.enqueue_durably") as queued, \
            django_capture_on_commit_callbacks(execute=True):
            later = failed_experiment(team, earlier.title, earlier.hypothesis, 5)
    assert not queued.called
    assert Experiment.objects.get(pk=later.pk).repeat_of is None


def test_imports_can_switch_detection_off(team, member, earlier, django_capture_on_commit_callbacks):
    with mock.patch("learninghub.insights.repeats.tasks.enqueue_durably") as queued, \
            django_capture_on_commit_callbacks(execute=True):
            later = _record_failure(team, member, earlier.title, earlier.hypothesis, detect_repeats=False)
            postmortem = postmortem_services.postmortem_create(
                team=team, user=member, detect_repeats=False,
                fields={"title": "Retrieval outage", "what_happened": "- It broke."})
    assert not queued.called
    assert Experiment.objects.get(pk=later.pk).repeat_of is None
    assert not RepeatCandidate.objects.filter(postmortem=postmortem).exists()


def test_a_post_mortem_is_sent_to_detection_by_its_service(team, member, django_capture_on_commit_callbacks):
    with mock.patch("learninghub.insights.repeats.tasks.enqueue_durably") as queued, \
            django_capture_on_commit_callbacks(execute=True):
            postmortem = postmortem_services.postmortem_create(
                team=team, user=member, fields={"title": "Retrieval outage", "what_happened": "- It broke."})
    assert [call.args[1:] for call in queued.call_args_list] == [("postmortem", postmortem.pk)]


def test_an_automatic_link_goes_through_the_owning_service_and_marks_the_month_stale(
        team, earlier, signalled_months, django_capture_on_commit_callbacks):
    later = failed_experiment(team, earlier.title, earlier.hypothesis, 5)
    with django_capture_on_commit_callbacks(execute=True):
        detect_repeat.delay("experiment", later.pk)
    later.refresh_from_db()
    assert later.repeat_of == earlier and later.version == 2
    assert (team.pk, frozenset({Month.of(later.ended_at)})) in signalled_months


def test_without_the_similarity_model_the_rule_decides_and_only_queues(team, settings):
    settings.REPEAT_SIMILARITY_BACKEND = "tests.repeats.test_review_queue.BrokenSimilarity"
    first = PostMortemFactory(team=team, failure_mode="data_quality", title="Feature pipeline outage",
                              root_cause="- Upstream schema change dropped the user_segment column silently",
                              occurred_at=NOW - dt.timedelta(days=40))
    second = PostMortemFactory(team=team, failure_mode="data_quality", title="Training data gap",
                               root_cause="- Upstream schema change dropped the user_segment column again",
                               occurred_at=NOW - dt.timedelta(days=2))
    detect_repeat.delay("postmortem", second.pk)
    candidate = RepeatCandidate.objects.get(postmortem=second)
    assert candidate.method == "rule"
    assert candidate.earlier == first
    assert candidate.status == CandidateStatus.PENDING, "the rule never links on its own"
    assert PostMortem.objects.get(pk=second.pk).repeat_of is None


def make_pending(team, earlier, settings):
    settings.REPEAT_AUTO_LINK_THRESHOLD = 1.01  # nothing links by itself
    later = failed_experiment(team, earlier.title + " v2", earlier.hypothesis, 5)
    detect_repeat.delay("experiment", later.pk)
    return RepeatCandidate.objects.get(experiment=later)


def test_a_lead_confirms_from_the_queue_and_the_decision_is_recorded(lead_client, lead, team, earlier, settings):
    candidate = make_pending(team, earlier, settings)
    page = lead_client.get(reverse("repeats:queue"))
    assert candidate in page.context["page_obj"].object_list
    lead_client.post(reverse("repeats:decide", args=[candidate.pk, "confirm"]))
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.CONFIRMED and candidate.decided_by == lead
    failure = Experiment.objects.get(pk=candidate.experiment_id)
    assert failure.repeat_of == earlier and failure.repeat_link_source == "manual"
    assert list(candidate.decisions.values_list("to_status", flat=True)) == ["confirmed", "pending"]


def test_a_lead_rejects_and_nothing_is_linked(lead_client, team, earlier, settings):
    candidate = make_pending(team, earlier, settings)
    lead_client.post(reverse("repeats:decide", args=[candidate.pk, "reject"]))
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.REJECTED
    assert Experiment.objects.get(pk=candidate.experiment_id).repeat_of is None


@pytest.mark.parametrize("who", ["member_client", "outsider"])
def test_only_leads_confirm(request, client, who, team, earlier, settings):
    if who == "outsider":
        client.force_login(request.getfixturevalue("outsider"))
        acting = client
    else:
        acting = request.getfixturevalue("member_client")
    candidate = make_pending(team, earlier, settings)
    response = acting.post(reverse("repeats:decide", args=[candidate.pk, "confirm"]), follow=True)
    assert "Only leads" in response.content.decode()
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.PENDING


def test_a_member_undoes_an_automatic_link_and_it_counts_as_overturned(member_client, team, earlier):
    later = failed_experiment(team, earlier.title, earlier.hypothesis, 5)
    detect_repeat.delay("experiment", later.pk)
    candidate = RepeatCandidate.objects.get(experiment=later)
    assert overturn_stats(team.pk).overturned == 0
    member_client.post(reverse("repeats:decide", args=[candidate.pk, "undo"]))
    later.refresh_from_db()
    assert later.repeat_of is None and later.repeat_link_source == ""
    stats = overturn_stats(team.pk)
    assert (stats.automatic_links, stats.overturned, stats.rate) == (1, 1, 1.0)
    page = member_client.get(reverse("repeats:queue") + "?view=automatic")
    assert "1 of 1 automatic link overturned" in page.content.decode()


def test_restricted_postmortems_stay_out_of_other_teams_queue(client, outsider, member, team, settings):
    settings.REPEAT_AUTO_LINK_THRESHOLD = 1.01  # nothing links by itself: the candidate waits for review
    PostMortemFactory(team=team, restricted=True, title="Secret outage", what_happened="Payments key leaked",
                      root_cause="Key in repository", occurred_at=NOW - dt.timedelta(days=30))
    second = PostMortemFactory(team=team, restricted=True, title="Secret outage again",
                               what_happened="Payments key leaked", root_cause="Key in repository",
                               occurred_at=NOW - dt.timedelta(days=1))
    detect_repeat.delay("postmortem", second.pk)
    candidate = RepeatCandidate.objects.get(postmortem=second)
    assert candidate.status == CandidateStatus.PENDING
    client.force_login(member)
    assert candidate in client.get(reverse("repeats:queue")).context["page_obj"].object_list
    client.force_login(outsider)
    for view in ("pending", "automatic", "decided"):
        page = client.get(reverse("repeats:queue") + f"?view={view}")
        assert not page.context["page_obj"].object_list, view
        assert "Secret outage" not in page.content.decode(), view


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "not-a-url-name", ""])
def test_after_a_decision_only_pages_of_this_site_are_followed(lead_client, team, earlier, settings, next_url):
    candidate = make_pending(team, earlier, settings)
    response = lead_client.post(reverse("repeats:decide", args=[candidate.pk, "reject"]), {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == reverse("repeats:queue")
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.REJECTED


def test_after_a_decision_the_queue_page_it_came_from_is_kept(lead_client, team, earlier, settings):
    candidate = make_pending(team, earlier, settings)
    back = reverse("repeats:queue") + f"?view=pending&team={team.slug}"
    response = lead_client.post(reverse("repeats:decide", args=[candidate.pk, "reject"]), {"next": back})
    assert response.status_code == 302 and response["Location"] == back


def test_queue_has_an_empty_state_and_ignores_bad_parameters(member_client):
    response = member_client.get(reverse("repeats:queue") + "?view=nonsense&team=nope&page=abc")
    assert response.status_code == 200
    assert "Nothing waits for review" in response.content.decode()


def test_detail_page_of_an_automatically_linked_failure_points_to_the_queue(member_client, team, earlier):
    later = failed_experiment(team, earlier.title, earlier.hypothesis, 5)
    detect_repeat.delay("experiment", later.pk)
    page = member_client.get(later.get_absolute_url()).content.decode()
    assert "review or undo this automatic link" in page
    assert f"{reverse('repeats:queue')}?view=automatic&amp;team={team.slug}" in page


def test_dashboards_show_how_often_automatic_links_were_overturned(member_client, team, earlier):
    later = failed_experiment(team, earlier.title, earlier.hypothesis, 5)
    detect_repeat.delay("experiment", later.pk)
    member_client.post(reverse("repeats:decide", args=[RepeatCandidate.objects.get().pk, "undo"]))
    for url in [reverse("home"), reverse("dashboards:team", args=[team.slug])]:
        page = member_client.get(url).content.decode()
        assert "1 of 1 automatic link</a>" in page and "overturned by people (100%)" in page, url
        assert "0 suspected repeats waiting for a lead" in page
