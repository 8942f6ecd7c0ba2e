"""Award pages, at /awards/. Cycles are addressed by month: /awards/cycles/2026-11/."""

from datetime import date

from django.urls import path, register_converter

from awards import views
from awards.filters import parse_month


class MonthConverter:
    regex = r"\d{4}-\d{2}"

    def to_python(self, value: str) -> date:
        month = parse_month(value)
        if month is None:
            raise ValueError(f"{value!r} is not a month")  # → 404
        return month

    def to_url(self, value: date | str) -> str:
        return value if isinstance(value, str) else f"{value.year:04d}-{value.month:02d}"


register_converter(MonthConverter, "month")

app_name = "awards"
urlpatterns = [
    path("", views.current, name="current"),
    path("open/", views.open_current, name="open-current"),
    path("cycles/", views.cycle_list, name="cycles"),
    path("cycles/<month:month>/", views.cycle_detail, name="cycle"),
    path("cycles/<month:month>/advance/", views.advance, name="advance"),
    path("cycles/<month:month>/nominate/<slug:slug>/", views.nominate, name="nominate"),
    path("cycles/<month:month>/vote/<slug:slug>/", views.vote, name="vote"),
    path("hall-of-fame/", views.hall_of_fame, name="hall-of-fame"),
    path("people/<str:username>/", views.person, name="person"),
]
