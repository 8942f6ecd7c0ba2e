"""ETag out, If-Match in, on every versioned API resource: a weak ETag from ``version`` on detail
reads and writes; an update whose If-Match is stale answers 412 and changes nothing, checked by
the service's conditional update (so a concurrent write between the view's read and the save is
caught too)."""

import pytest

from experiments import services as experiment_services
from experiments.models import Experiment
from learninghub.kernel.concurrency import StaleVersionError
from postmortems.models import PostMortem
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory

pytestmark = pytest.mark.django_db

VERSIONED = {
    "experiments": (ExperimentFactory, Experiment, {}),
    "postmortems": (PostMortemFactory, PostMortem, {"draft": True}),  # a published one needs items
}


@pytest.fixture(params=sorted(VERSIONED))
def resource(request, team):
    factory, model, extra = VERSIONED[request.param]
    record = factory(team=team, title="Before", **extra)
    return f"/api/v1/{request.param}/{record.pk}/", model, record


def test_detail_reads_and_writes_carry_a_weak_etag_of_the_version(member_api, resource):
    url, _model, _record = resource
    read = member_api.get(url)
    assert read.status_code == 200 and read["ETag"] == 'W/"1"'
    written = member_api.patch(url, {"title": "After"}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert written.status_code == 200, written.content
    assert written["ETag"] == 'W/"2"' == f'W/"{written.json()["version"]}"'
    assert member_api.get(url)["ETag"] == 'W/"2"'


def test_lists_carry_no_etag(member_api, resource):
    url, _model, _record = resource
    assert "ETag" not in member_api.get(url.rsplit("/", 2)[0] + "/")


@pytest.mark.parametrize("method", ["patch", "put"])
def test_a_stale_if_match_is_412_and_changes_nothing(member_api, resource, method):
    url, model, record = resource
    assert member_api.patch(url, {"title": "Someone else's edit"}, format="json").status_code == 200
    body = {**member_api.get(url).json(), "title": "Mine"}
    body.pop("version")
    response = getattr(member_api, method)(url, body, format="json", HTTP_IF_MATCH='W/"1"')
    assert response.status_code == 412, response.content
    assert response.json()["current_version"] == 2
    stored = model.objects.get(pk=record.pk)
    assert (stored.title, stored.version) == ("Someone else's edit", 2)


def test_a_stale_version_in_the_body_is_409(member_api, resource):
    url, model, record = resource
    member_api.patch(url, {"title": "First"}, format="json")
    response = member_api.patch(url, {"title": "Second", "version": 1}, format="json")
    assert response.status_code == 409
    assert model.objects.get(pk=record.pk).title == "First"


def test_if_match_star_is_an_unconditional_update(member_api, resource):
    url, _model, _record = resource
    member_api.patch(url, {"title": "First"}, format="json")
    response = member_api.patch(url, {"title": "Second"}, format="json", HTTP_IF_MATCH="*")
    assert response.status_code == 200 and response["ETag"] == 'W/"3"'


def test_the_version_is_checked_under_the_row_lock_not_on_the_loaded_record(team, member):
    """The view loads the record, then someone else saves: the service still refuses the edit."""
    loaded = ExperimentFactory(team=team, title="Before")
    Experiment.objects.filter(pk=loaded.pk).update(version=2, title="Concurrent")
    with pytest.raises(StaleVersionError):
        experiment_services.experiment_update(experiment=loaded, user=member, data={"title": "Mine"},
                                              expected_version=1)
    stored = Experiment.objects.get(pk=loaded.pk)
    assert (stored.title, stored.version) == ("Concurrent", 2)
