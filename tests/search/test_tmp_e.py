import pytest
from tests.factories.experiments import ExperimentFactory
from learninghub.insights.search.selectors import search
@pytest.mark.django_db
def test_x(team, member):
    ExperimentFactory(team=team, title="<script>alert(1)</script> leakage in labels", hypothesis="We saw <b>leakage</b> & more")
    for h in search(user=member, query="leakage").hits: print(repr(h.title_html), repr(h.snippet_html))
