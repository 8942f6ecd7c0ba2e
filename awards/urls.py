"""Award pages, at /awards/. Cycles are addressed by month: /awards/cycles/2026-11/."""

from datetime import date

from django.urls import path, register_converter

from awards import exports, views
from learninghub.kernel.periods import Month


class MonthConverter:
    """``2026-11`` ↔ the first day of the month (what cycles store); not a month → 404."""

    regex = r"\d{4}-\d{2}"

    def to_python(self, value: str) -> date:
        return Month.parse(value).first_day  # a ValueError is a 404

    def to_url(self, value: Month | date | str) -> str:
        return value if isinstance(value, str) else Month.of(value).key


register_converter(MonthConverter, "month")

app_name = "awards"
urlpatterns = [
    path("", views.current, name="current"),
    path("open/", views.open_current, name="open-current"),
    path("cycles/", views.cycle_list, name="cycles"),
    path("cycles/export.csv", exports.award_results_csv, name="results-export"),
    path("cycles/<month:month>/", views.cycle_detail, name="cycle"),
    path("cycles/<month:month>/advance/", views.advance, name="advance"),
    path("cycles/<month:month>/nominate/<slug:slug>/", views.nominate, name="nominate"),
    path("cycles/<month:month>/vote/<slug:slug>/", views.vote, name="vote"),
    path("hall-of-fame/", views.hall_of_fame, name="hall-of-fame"),
    path("people/<str:username>/", views.person, name="person"),
]
