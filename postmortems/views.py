"""Post-mortem pages. Thin: forms check input, services write, selectors read."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_http_methods, require_POST

from experiments.models import Lesson
from learninghub.kernel.api.pagination import ListPaginator
from learninghub.kernel.concurrency import StaleVersionError
from learninghub.kernel.headers import set_download_filename
from learninghub.kernel.policy import can_lead, can_read, can_write
from postmortems import selectors, services
from postmortems.forms import (
    ActionItemFormSetClass,
    ActionItemStatusForm,
    ImportMarkdownForm,
    LessonFormSetClass,
    PostMortemForm,
    teams_for,
)
from postmortems.markdown_io import postmortem_to_markdown
from postmortems.models import ActionItem, ActionItemStatus, PostMortem

User = get_user_model()
PAGE_SIZE = 25
MY_ITEMS_SHOW_CHOICES = [("open", "Open and in progress"), ("done", "Done or won't do"), ("all", "All")]


def _page(request: HttpRequest, queryset: QuerySet, size: int = PAGE_SIZE) -> dict:
    paginator = ListPaginator(queryset, size)
    page_obj = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return {"page_obj": page_obj, "querystring_without_page": params.urlencode()}


def _get_visible(user, pk: int) -> PostMortem:
    try:
        return selectors.postmortem_detail(user=user, pk=pk)
    except PostMortem.DoesNotExist as exc:
        raise Http404("No such post-mortem.") from exc


# --- Lists ----------------------------------------------------------------------------------


def postmortem_list(request: HttpRequest) -> HttpResponse:
    filterset = selectors.postmortem_list(user=request.user, params=request.GET, request=request)
    context = {
        "filter": filterset,
        "can_create": teams_for(request.user).exists(),
        "filtered": any(value for key, value in request.GET.items() if key != "page"),
        "hidden": selectors.postmortems_hidden(user=request.user, params=request.GET, request=request),
        **_page(request, filterset.qs),
    }
    return render(request, "postmortems/list.html", context)


def action_item_list(request: HttpRequest) -> HttpResponse:
    filterset = selectors.action_item_list(user=request.user, params=request.GET, request=request)
    context = {
        "filter": filterset,
        "filtered": any(value for key, value in request.GET.items() if key != "page"),
        "status_choices": ActionItemStatus.choices,
        "hidden": selectors.action_items_hidden(user=request.user, params=request.GET, request=request),
        **_page(request, filterset.qs),
    }
    return render(request, "postmortems/action_items.html", context)


def my_action_items(request: HttpRequest) -> HttpResponse:
    # Unfinished items by default; a status filter is more specific than the tabs, so it wins.
    show = request.GET.get("show", "")
    if request.GET.get("status"):
        show = "all"
    elif show not in selectors.MY_ITEMS_SHOWN:
        show = "open"
    filterset = selectors.my_action_items(user=request.user, params=request.GET, request=request, show=show)
    for name in ("owner", "search"):
        filterset.form.fields.pop(name, None)
    page = _page(request, filterset.qs)
    # The tabs as a field of the filter form too, so filtering keeps the tab. Added once the
    # filters ran: they are not a filter (``show`` picked the queryset above).
    filterset.form.fields["show"] = forms.ChoiceField(choices=MY_ITEMS_SHOW_CHOICES, required=False,
                                                      initial="open", label="Show",
                                                      help_text="A status filter overrides this.")
    counts = selectors.action_item_counts(user=request.user, owner=request.user)
    context = {
        "filter": filterset,
        "filtered": any(value for key, value in request.GET.items() if key not in {"page", "show"}),
        "show": show,
        "counts": counts,
        "status_choices": ActionItemStatus.choices,
        **page,
    }
    return render(request, "postmortems/my_action_items.html", context)


# --- Detail and export ----------------------------------------------------------------------


def postmortem_detail(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _get_visible(request.user, pk)
    repeat_of = postmortem.repeat_of if postmortem.repeat_of and can_read(request.user, postmortem.repeat_of) \
        else None
    context = {
        "postmortem": postmortem,
        "action_items": postmortem.action_items.all(),
        "lessons": postmortem.lessons.all(),
        "repeat_of": repeat_of,
        "repeats": selectors.postmortem_repeats(user=request.user, postmortem=postmortem),
        "can_edit": can_write(request.user, postmortem.team_id),
        "can_delete": can_lead(request.user, postmortem.team_id),
        "status_choices": ActionItemStatus.choices,
    }
    return render(request, "postmortems/detail.html", context)


def postmortem_markdown(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _get_visible(request.user, pk)
    text = postmortem_to_markdown(postmortem, action_items=postmortem.action_items.all(),
                                  lessons=postmortem.lessons.all())
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    filename = f"postmortem-{postmortem.pk}-{slugify(postmortem.title)[:60] or 'untitled'}.md"
    set_download_filename(response, filename)
    return response


# --- The form -------------------------------------------------------------------------------


def _row_querysets(user, team_ids: list[int]) -> dict:
    owners = (User.objects.filter(memberships__team_id__in=team_ids, is_active=True).distinct()
              .order_by("username"))
    lessons = Lesson.objects.filter(team_id__in=team_ids).select_related("team").order_by("-documented_at", "-pk")
    return {"owners": owners, "lessons": lessons}


def _team_ids_for_rows(user, postmortem: PostMortem | None) -> list[int]:
    if postmortem is not None:
        return [postmortem.team_id]
    return list(teams_for(user).values_list("pk", flat=True))


def _build_forms(request: HttpRequest, postmortem: PostMortem | None, *, data=None, initial=None,
                 item_initial=None, lesson_initial=None):
    row_kwargs = _row_querysets(request.user, _team_ids_for_rows(request.user, postmortem))
    form = PostMortemForm(data, user=request.user, postmortem=postmortem, initial=initial)
    items = ActionItemFormSetClass(data, prefix="items", initial=item_initial, form_kwargs=row_kwargs)
    lessons = LessonFormSetClass(data, prefix="lessons", initial=lesson_initial)
    if postmortem is not None:
        items.existing_ids = {item.pk for item in postmortem.action_items.all()}
        lessons.existing_ids = {lesson.pk for lesson in postmortem.lessons.all()}
    return form, items, lessons


def _apply_service_errors(error: ValidationError, form) -> list[str]:
    """Put a service's field errors beside the matching fields; return the rest as messages."""
    leftovers: list[str] = []
    for name, messages_ in error.message_dict.items():
        for message in messages_:
            if name in form.fields:
                form.add_error(name, message)
            else:
                leftovers.append(message)
    return leftovers


def _render_form(request: HttpRequest, form, items, lessons, postmortem: PostMortem | None, *,
                 status: int = 200, warnings=None, problems=None, conflict=None,
                 detect_repeats: bool = True) -> HttpResponse:
    context = {
        "form": form, "items": items, "lessons": lessons, "postmortem": postmortem,
        "warnings": warnings or [], "problems": problems or [], "conflict": conflict,
        "detect_repeats": detect_repeats,
    }
    return render(request, "postmortems/form.html", context, status=status)


def _save(request: HttpRequest, postmortem: PostMortem | None) -> HttpResponse:
    form, items, lessons = _build_forms(request, postmortem, data=request.POST)
    # An imported history post-mortem carries ``detect_repeats=false`` from the import page.
    detect_repeats = request.POST.get("detect_repeats", "").lower() not in {"false", "0", "off"}
    form_valid = form.is_valid()
    items.team = form.chosen_team
    if not (form_valid & items.is_valid() & lessons.is_valid()):
        return _render_form(request, form, items, lessons, postmortem, status=400, detect_repeats=detect_repeats)
    try:
        if postmortem is None:
            saved = services.postmortem_create(team=form.cleaned_data["team"], user=request.user,
                                               fields=form.service_fields(), action_items=items.rows(),
                                               lessons=lessons.rows(), detect_repeats=detect_repeats)
        else:
            saved = services.postmortem_update(postmortem=postmortem, user=request.user,
                                               fields=form.service_fields(), action_items=items.rows(),
                                               lessons=lessons.rows(), expected_version=form.cleaned_data["version"])
    except StaleVersionError as exc:
        conflict = {"current_version": exc.current_version, "url": postmortem.get_absolute_url()}
        return _render_form(request, form, items, lessons, postmortem, status=409, conflict=conflict)
    except ValidationError as exc:
        problems = _apply_service_errors(exc, form)
        return _render_form(request, form, items, lessons, postmortem, status=400, problems=problems)
    verb = "created" if postmortem is None else "saved"
    messages.success(request, f"Post-mortem “{saved.title}” {verb}.")
    return redirect(saved)


@require_http_methods(["GET", "POST"])
def postmortem_create(request: HttpRequest) -> HttpResponse:
    if not teams_for(request.user).exists():
        raise PermissionDenied("Only members of a team can write post-mortems.")
    if request.method == "POST":
        return _save(request, None)
    initial = {}
    team_slug = request.GET.get("team")
    if team_slug:
        team = teams_for(request.user).filter(slug=team_slug).first()
        if team is not None:
            initial["team"] = team
    form, items, lessons = _build_forms(request, None, initial=initial)
    return _render_form(request, form, items, lessons, None)


@require_http_methods(["GET", "POST"])
def postmortem_edit(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _get_visible(request.user, pk)
    if not can_write(request.user, postmortem.team_id):
        raise PermissionDenied("Only members of this team can edit its post-mortems.")
    if request.method == "POST":
        return _save(request, postmortem)
    initial = {name: getattr(postmortem, name) for name in services.EDITABLE_FIELDS}
    initial["version"] = postmortem.version
    item_initial = [{"id": item.pk, "description": item.description, "owner": item.owner_id,
                     "due_date": item.due_date, "status": item.status, "lesson": item.lesson_id}
                    for item in postmortem.action_items.all()]
    lesson_initial = [{"id": lesson.pk, "text": lesson.text} for lesson in postmortem.lessons.all()]
    form, items, lessons = _build_forms(request, postmortem, initial=initial, item_initial=item_initial,
                                        lesson_initial=lesson_initial)
    return _render_form(request, form, items, lessons, postmortem)


@require_http_methods(["GET", "POST"])
def postmortem_import(request: HttpRequest) -> HttpResponse:
    """Paste the template, get the create form pre-filled (nothing is saved until it is sent)."""
    if not teams_for(request.user).exists():
        raise PermissionDenied("Only members of a team can write post-mortems.")
    import_form = ImportMarkdownForm(request.POST or None, user=request.user,
                                     initial={"team": teams_for(request.user).first()})
    if request.method == "POST" and import_form.is_valid():
        team = import_form.cleaned_data["team"]
        inputs = services.postmortem_inputs_from_markdown(markdown=import_form.cleaned_data["markdown"], team=team)
        initial = {"team": team, **inputs.fields}
        item_initial = [{**row, "owner": row["owner"].pk if row["owner"] else None} for row in inputs.action_items]
        form, items, lessons = _build_forms(request, None, initial=initial, item_initial=item_initial,
                                            lesson_initial=inputs.lessons)
        detect_repeats = not import_form.cleaned_data["skip_repeat_detection"]
        warnings = inputs.warnings if detect_repeats else [
            *inputs.warnings, "Repeat detection is off: this post-mortem will not be compared with earlier failures."]
        return _render_form(request, form, items, lessons, None, warnings=warnings, detect_repeats=detect_repeats)
    return render(request, "postmortems/import.html", {"form": import_form},
                  status=400 if import_form.is_bound else 200)


@require_http_methods(["GET", "POST"])
def postmortem_delete(request: HttpRequest, pk: int) -> HttpResponse:
    postmortem = _get_visible(request.user, pk)
    if not can_lead(request.user, postmortem.team_id):
        raise PermissionDenied("Only leads of this team can delete its post-mortems.")
    if request.method == "POST":
        title = postmortem.title
        services.postmortem_delete(postmortem=postmortem, user=request.user)
        messages.success(request, f"Post-mortem “{title}” deleted.")
        return redirect("postmortems:list")
    return render(request, "postmortems/confirm_delete.html", {"postmortem": postmortem})


# --- Action item status ---------------------------------------------------------------------


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@require_POST
def action_item_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Change one action item's status: JSON for the in-place toggle, a redirect back otherwise."""
    try:
        item = selectors.action_item_get(user=request.user, pk=pk)
    except ActionItem.DoesNotExist as exc:
        raise Http404("No such action item.") from exc
    form = ActionItemStatusForm(request.POST)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("postmortems:my-action-items")
    if not item.may_be_changed_by(request.user):
        if _wants_json(request):
            return JsonResponse({"error": "Only the owner and the team's members can change this item."}, status=403)
        raise PermissionDenied("Only the owner and the team's members can change this action item.")
    if not form.is_valid():
        if _wants_json(request):
            return JsonResponse({"error": "Pick a valid status."}, status=400)
        messages.error(request, "Pick a valid status.")
        return redirect(next_url)
    previous = ActionItemStatus(item.status)
    item = services.action_item_set_status(item=item, status=form.cleaned_data["status"], user=request.user)
    if _wants_json(request):
        # ``previous_status`` lets the page offer Undo (posting it back here); ``my_counts`` are
        # the viewer's own items, for the counters of "My action items".
        return JsonResponse({
            "id": item.pk, "status": item.status, "status_display": item.get_status_display(),
            "previous_status": previous.value, "previous_status_display": previous.label,
            "completed_at": item.completed_at.isoformat() if item.completed_at else None,
            "overdue": item.is_overdue,
            "my_counts": selectors.action_item_counts(user=request.user, owner=request.user),
        })
    messages.success(request, f"“{item.description[:60]}” is now {item.get_status_display().lower()}.")
    return redirect(f"{next_url}#action-item-{item.pk}" if "#" not in next_url else next_url)
