"""The demo post-mortems: the feature engineering pipeline failure from the template, and more,
loaded idempotently (experiment links are optional)."""

import pytest

from experiments.models import LessonApplication
from learninghub.kernel import demo as kernel_demo
from postmortems import demo
from postmortems.models import ActionItem, PostMortem

pytestmark = pytest.mark.django_db


def test_seed_is_idempotent_and_tells_the_template_story():
    kernel = kernel_demo.seed()
    demo.seed(kernel)
    counts = (PostMortem.objects.count(), ActionItem.objects.count(), LessonApplication.objects.count())
    assert "0 post-mortems added" in demo.seed(kernel)
    assert (PostMortem.objects.count(), ActionItem.objects.count(), LessonApplication.objects.count()) == counts

    story = PostMortem.objects.get(title="Feature engineering pipeline failure")
    assert story.action_items.count() == 4 and story.lessons.count() == 3
    assert story.time_to_detect.total_seconds() < 4 * 3600
    assert "3 days of GPU time lost" in story.what_happened and "a week" in story.what_happened
    assert "Rollback worked" in story.what_went_well

    assert PostMortem.objects.filter(restricted=True).count() == 1
    assert PostMortem.objects.filter(repeat_of__isnull=False).count() >= 2
    assert set(PostMortem.objects.values_list("team__slug", flat=True)) == {"recsys", "data-platform", "search"}
    assert ActionItem.objects.filter(status="done", lesson__isnull=False).count() == LessonApplication.objects.filter(
        action_item__isnull=False).count() > 0
    for item in ActionItem.objects.select_related("postmortem__team", "owner"):
        assert item.postmortem.team.has_member(item.owner), item
