"""Award pages: the current cycle (nominate, vote, results), past cycles, the hall of fame.
Thin: rules live in awards.services, reads in awards.selectors."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from awards import selectors, services
from awards.filters import CycleFilter, HallOfFameForm
from awards.forms import NominationForm, VoteForm, apply_service_errors
from awards.models import AwardCategory, AwardCycle
from learninghub.kernel.api.exceptions import DomainConflictError
from learninghub.kernel.periods import Month


def _querystring_without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _is_current(cycle: AwardCycle) -> bool:
    current = selectors.cycle_current(today=services.utc_today())
    return current is not None and current.pk == cycle.pk


def _cycle_url(cycle: AwardCycle, anchor: str = "") -> str:
    url = reverse("awards:current") if _is_current(cycle) else cycle.get_absolute_url()
    return f"{url}#{anchor}" if anchor else url


def _prefill(request: HttpRequest) -> tuple[str, dict]:
    """Initial nomination values from a suggestion link (?category=…&nominee=…&experiment=…)."""
    slug = request.GET.get("category", "")
    initial = {}
    username = request.GET.get("nominee", "")
    if username:
        nominee = get_user_model().objects.filter(username=username, is_active=True).first()
        if nominee is not None:
            initial["nominee"] = nominee.pk
    for name in ("experiment", "postmortem"):
        value = request.GET.get(name, "")
        if value.isdigit():
            initial[name] = int(value)
    return slug, initial


def _render_cycle(request: HttpRequest, cycle: AwardCycle | None, *, bound: dict | None = None) -> HttpResponse:
    """The cycle page. ``bound`` maps ("nominate"|"vote", category slug) to a submitted form with
    errors, so it re-renders with what was typed."""
    bound = bound or {}
    user = request.user
    today = services.utc_today()
    context: dict = {"cycle": cycle, "can_advance": services.can_advance_cycles(user), "today": today}
    if cycle is None:
        return render(request, "awards/cycle.html", context)
    boards = selectors.cycle_board(cycle=cycle, viewer=user)
    prefill_slug, prefill = _prefill(request)
    suggestions_month, suggestions = cycle.month, {}
    if cycle.is_nominating:
        suggestions_month, suggestions = selectors.suggestions_with_fallback(month=cycle.month, viewer=user)
    for board in boards:
        slug = board.category.slug
        board.nomination_form = None
        board.vote_form = None
        board.suggestions = suggestions.get(slug, [])
        if cycle.is_nominating and board.category.is_active:
            board.nomination_form = bound.get(("nominate", slug)) or NominationForm(
                cycle=cycle, category=board.category, user=user, initial=prefill if slug == prefill_slug else None)
        if cycle.is_voting and any(entry.user.pk != user.pk for entry in board.nominees):
            board.vote_form = bound.get(("vote", slug)) or VoteForm(
                category=board.category, nominees=[entry.user for entry in board.nominees], user=user,
                initial={"nominee": board.my_vote.nominee_id} if board.my_vote else None)
    context.update({
        "boards": boards,
        "my_votes": [board.my_vote for board in boards if board.my_vote],
        "transitions": cycle.transitions.select_related("by"),
        "is_current": _is_current(cycle),
        "other_open_cycles": AwardCycle.objects.open().exclude(pk=cycle.pk).order_by("month"),
        "behind_schedule": cycle.is_behind_schedule(today),
        "turnout": selectors.cycle_turnout(cycle) if not cycle.is_nominating else None,
        "suggestions_month": suggestions_month,
        "next_cycle_opens_on": cycle.period.next().first_day,
    })
    return render(request, "awards/cycle.html", context)


def current(request: HttpRequest) -> HttpResponse:
    return _render_cycle(request, selectors.cycle_current(today=services.utc_today()))


def cycle_detail(request: HttpRequest, month: date) -> HttpResponse:
    return _render_cycle(request, get_object_or_404(AwardCycle, month=month))


@require_POST
def nominate(request: HttpRequest, month: date, slug: str) -> HttpResponse:
    cycle = get_object_or_404(AwardCycle, month=month)
    category = get_object_or_404(AwardCategory, slug=slug)
    form = NominationForm(request.POST, cycle=cycle, category=category, user=request.user)
    if form.is_valid():
        try:
            nomination = services.nomination_create(
                cycle=cycle, category=category, nominator=request.user, nominee=form.cleaned_data["nominee"],
                reason=form.cleaned_data["reason"], experiment=form.cleaned_data["experiment"],
                postmortem=form.cleaned_data["postmortem"])
        except DomainConflictError as exc:
            messages.error(request, str(exc))
            return redirect(_cycle_url(cycle))
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            messages.success(request, f"You nominated {selectors.display_name(nomination.nominee)} "
                                      f"for {category.name}.")
            return redirect(_cycle_url(cycle, slug))
    return _render_cycle(request, cycle, bound={("nominate", slug): form})


@require_POST
def vote(request: HttpRequest, month: date, slug: str) -> HttpResponse:
    cycle = get_object_or_404(AwardCycle, month=month)
    category = get_object_or_404(AwardCategory, slug=slug)
    nominees = get_user_model().objects.filter(award_nominations_received__cycle=cycle,
                                               award_nominations_received__category=category).distinct()
    form = VoteForm(request.POST, category=category, nominees=list(nominees), user=request.user)
    if form.is_valid():
        try:
            ballot, created = services.vote_cast(cycle=cycle, category=category, voter=request.user,
                                                 nominee=form.cleaned_data["nominee"])
        except DomainConflictError as exc:
            messages.error(request, str(exc))
            return redirect(_cycle_url(cycle))
        except ValidationError as exc:
            apply_service_errors(form, exc)
        else:
            verb = "Your vote" if created else "Your vote was changed"
            messages.success(request, f"{verb} in {category.name}: {selectors.display_name(ballot.nominee)}. "
                                      "Counts stay secret until the cycle closes.")
            return redirect(_cycle_url(cycle, slug))
    return _render_cycle(request, cycle, bound={("vote", slug): form})


@require_http_methods(["GET", "POST"])
def advance(request: HttpRequest, month: date) -> HttpResponse:
    """Move a cycle one stage on, after a confirmation step: GET (or a POST without
    ``confirm=yes``) shows what will happen; only the confirmation's POST moves it. A page, not a
    script dialog, so it works without JavaScript and under the CSP."""
    cycle = get_object_or_404(AwardCycle, month=month)
    if not services.can_advance_cycles(request.user):
        raise PermissionDenied("Only team leads or staff can advance an award cycle.")
    params = request.POST if request.method == "POST" else request.GET
    from_state = params.get("from_state") or cycle.state
    if cycle.is_closed or from_state != cycle.state:
        messages.error(request, f"The {cycle.period.label} award cycle is already "
                                f"{cycle.get_state_display().lower()}; nothing was changed.")
        return redirect(_cycle_url(cycle))
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return render(request, "awards/confirm_advance.html", {
            "cycle": cycle, "today": services.utc_today(), "cycle_url": _cycle_url(cycle),
            "boards": selectors.cycle_board(cycle=cycle, viewer=request.user),
            "turnout": selectors.cycle_turnout(cycle) if cycle.is_voting else None,
        })
    try:
        services.cycle_advance(cycle=cycle, by=request.user, expected_state=request.POST.get("from_state") or None)
    except DomainConflictError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"The {cycle.period.label} cycle is now "
                                  f"{cycle.get_state_display().lower()}.")
    return redirect(_cycle_url(cycle))


@require_POST
def open_current(request: HttpRequest) -> HttpResponse:
    if not services.can_advance_cycles(request.user):
        raise PermissionDenied("Only team leads or staff can open an award cycle.")
    cycle, created = services.cycle_open(month=Month.of(services.utc_today()).first_day, by=request.user)
    if created:
        messages.success(request, f"The {cycle.period.label} cycle is open for nominations.")
    return redirect("awards:current")


def cycle_list(request: HttpRequest) -> HttpResponse:
    filterset = CycleFilter(request.GET or None, queryset=selectors.cycle_list())
    page_obj = Paginator(filterset.qs, 12).get_page(request.GET.get("page"))
    return render(request, "awards/cycle_list.html", {
        "filterset": filterset, "page_obj": page_obj, "cycles": page_obj.object_list,
        "querystring_without_page": _querystring_without_page(request),
        "filtered": any(request.GET.get(name) for name in ("state", "year")),
    })


def hall_of_fame(request: HttpRequest) -> HttpResponse:
    form = HallOfFameForm(request.GET or None)
    category, search = None, ""
    if form.is_valid():
        category, search = form.cleaned_data["category"], form.cleaned_data["search"].strip()
    rows = selectors.hall_of_fame(category=category, search=search)
    page_obj = Paginator(rows, 25).get_page(request.GET.get("page"))
    categories = selectors.hall_of_fame_categories()
    for row in page_obj.object_list:
        row.cells = [(category, row.by_category.get(category.pk)) for category in categories]
    return render(request, "awards/hall_of_fame.html", {
        "form": form, "page_obj": page_obj, "rows": page_obj.object_list, "categories": categories,
        "selected_category": category, "search": search,
        "citations": selectors.hall_of_fame_citations(viewer=request.user, category=category, search=search),
        "querystring_without_page": _querystring_without_page(request),
    })


def person(request: HttpRequest, username: str) -> HttpResponse:
    subject = get_object_or_404(get_user_model(), username=username)
    form = HallOfFameForm(request.GET or None)
    category = form.cleaned_data["category"] if form.is_valid() else None
    awards = subject.awards_won.select_related("cycle", "category").order_by("-cycle__month", "category__position")
    nominations = subject.award_nominations_received.select_related(
        "cycle", "category", "nominator", "experiment", "postmortem").order_by("-cycle__month", "-created_at")
    if category is not None:
        awards = awards.filter(category=category)
        nominations = nominations.filter(category=category)
    page_obj = Paginator(nominations, 20).get_page(request.GET.get("page"))
    return render(request, "awards/person.html", {
        "subject": subject, "form": form, "awards": awards, "selected_category": category,
        "page_obj": page_obj,
        "nominations": selectors.hide_invisible_evidence(list(page_obj.object_list), request.user),
        "querystring_without_page": _querystring_without_page(request),
    })
