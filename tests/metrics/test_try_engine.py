import datetime as dt
import pytest
from learninghub.metrics import engine
from learninghub.metrics.models import MetricSnapshot
from tests.factories.experiments import ExperimentFactory
from tests.factories.postmortems import PostMortemFactory
from tests.metrics.conftest import at, make_lesson

pytestmark = pytest.mark.django_db

def test_worked(team, lesson_source, django_assert_max_num_queries):
    earlier = ExperimentFactory(team=team, failed=True, started_at=at(2025, 6, 1))
    for i in range(6):
        kw = {}
        if i < 3:
            kw = dict(failed=True)
        ExperimentFactory(team=team, started_at=at(2025, 11, 2 + i), is_novel=i in (0, 4),
                          repeat_of=earlier if i == 0 else None, **kw)
    PostMortemFactory(team=team, occurred_at=at(2025, 11, 20))
    for i in range(10):
        make_lesson(team, lesson_source, at(2025, 1 + i, 10), applied_at=at(2025, 11, 29) if i < 4 else (at(2025, 12, 2) if i == 5 else None))
    make_lesson(team, lesson_source, dt.datetime(2024, 11, 30, 23, tzinfo=dt.UTC), applied_at=at(2025, 1, 1))
    with django_assert_max_num_queries(20) as q:
        n = engine.recompute([dt.date(2025, 11, 1)])
    for x in q.captured_queries: print(x["sql"][:3000]); print()
    s = MetricSnapshot.objects.get(team=team, month=dt.date(2025, 11, 1))
    print({f.name: getattr(s, f.name) for f in s._meta.fields})
    o = MetricSnapshot.objects.get(team=None, month=dt.date(2025, 11, 1))
    print(o.learning_efficiency_score)
