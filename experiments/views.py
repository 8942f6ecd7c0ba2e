"""Registry pages: list, detail with lineage, form, Markdown export, delete, lessons library.
Thin: filters, selectors and services do the work."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from experiments import selectors, services
from experiments.charts import ChainPoint, lineage_metric_figures
from experiments.filters import ExperimentFilter, LessonFilter
from experiments.forms import ExperimentForm, experiment_formsets
from experiments.markdown import experiment_markdown, markdown_filename
from experiments.models import Experiment, Lesson
from learninghub.kernel.api.pagination import ListPaginator
from learninghub.kernel.concurrency import StaleVersionError
from learninghub.kernel.headers import set_download_filename
from learninghub.kernel.models import Team
from learninghub.kernel.policy import can_lead, can_write, can_write_anywhere

PAGE_SIZE = 25
PICKER_INITIAL = 30


def _querystring_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _filtered_page(request: HttpRequest, filterset) -> dict:
    """Apply a FilterSet; invalid values show as form errors with no results (never a 500)."""
    valid = not filterset.is_bound or filterset.is_valid()
    queryset = filterset.qs if valid else filterset.queryset.none()
    page_obj = ListPaginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    filtered = any(value for key, value in request.GET.items() if key not in {"page", "sort"})
    return {"filter": filterset, "page_obj": page_obj, "filters_valid": valid, "is_filtered": filtered,
            "querystring_without_page": _querystring_without_page(request)}


@require_GET
def experiment_list(request: HttpRequest) -> HttpResponse:
    filterset = ExperimentFilter(request.GET or None, queryset=selectors.experiment_list(user=request.user),
                                 request=request)
    context = _filtered_page(request, filterset)
    context["can_create"] = can_write_anywhere(request.user)
    return render(request, "experiments/experiment_list.html", context)


@require_GET
def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(selectors.experiment_detail(user=request.user), pk=pk)
    lineage = selectors.experiment_lineage(experiment)
    points = [ChainPoint(label=node.title, url=node.get_absolute_url(), metrics=node.metrics or {},
                         is_current=node.pk == experiment.pk) for node in lineage.chain]
    context = {
        "experiment": experiment,
        "lineage": lineage,
        "lineage_charts": lineage_metric_figures(points) if not lineage.is_single else [],
        "can_edit": can_write(request.user, experiment.team_id),
        "can_delete": can_lead(request.user, experiment.team_id),
    }
    return render(request, "experiments/experiment_detail.html", context)


@require_GET
def experiment_markdown_export(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment.objects.select_related("team", "builds_on"), pk=pk)
    response = HttpResponse(experiment_markdown(experiment), content_type="text/markdown; charset=utf-8")
    set_download_filename(response, markdown_filename(experiment))
    return response


@require_http_methods(["GET", "POST"])
def experiment_create(request: HttpRequest) -> HttpResponse:
    if not can_write_anywhere(request.user):
        raise PermissionDenied("Only members of a team can record experiments; ask a staff member to add you.")
    return _experiment_form(request, None)


@require_http_methods(["GET", "POST"])
def experiment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment.objects.select_related("team"), pk=pk)
    if not can_write(request.user, experiment.team_id):
        raise PermissionDenied("Only members of this team can change its experiments.")
    return _experiment_form(request, experiment)


def _experiment_form(request: HttpRequest, experiment: Experiment | None) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = ExperimentForm(data, instance=experiment, user=request.user)
    rows = experiment_formsets(data, experiment=experiment)
    status = 200
    if data is not None and form.is_valid() and all(rowset.is_valid() for rowset in rows.values()):
        fields = {name: value for name, value in form.cleaned_data.items()
                  if name not in {"team", "version", "applied_lessons"}}
        fields["metrics"] = rows["metrics"].metrics()
        fields["next_steps"] = rows["steps"].steps()
        applied = [lesson.pk for lesson in form.cleaned_data["applied_lessons"]]
        try:
            if experiment is None:
                saved = services.experiment_create(team=form.cleaned_data["team"], user=request.user, data=fields,
                                                   lessons=rows["lessons"].lessons(), applied_lesson_ids=applied)
                messages.success(request, f"Experiment “{saved.title}” recorded.")
            else:
                saved = services.experiment_update(experiment=experiment, user=request.user, data=fields,
                                                   expected_version=form.cleaned_data.get("version"),
                                                   lessons=rows["lessons"].lessons(), applied_lesson_ids=applied)
                messages.success(request, f"Experiment “{saved.title}” saved (version {saved.version}).")
            return redirect(saved)
        except StaleVersionError as exc:
            # Like the post-mortem form: 409, the typed text kept, nothing overwritten.
            form.add_error(None, str(exc))
            status = 409
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None,
                               errors if field in form.fields else [f"{field.replace('_', ' ').capitalize()}: {e}"
                                                                    for e in errors])
    selected = form.selected_lesson_ids()
    candidates = selectors.lesson_picker(user=request.user, exclude_experiment=experiment, limit=PICKER_INITIAL)
    chosen = list(Lesson.objects.visible_to(request.user).filter(pk__in=selected)
                  .select_related("team", "experiment", "postmortem"))
    picker = chosen + [lesson for lesson in candidates if lesson.pk not in set(selected)]
    context = {"form": form, "rows": rows, "experiment": experiment, "picker_lessons": picker,
               "selected_lesson_ids": set(selected)}
    return render(request, "experiments/experiment_form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def experiment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment.objects.select_related("team"), pk=pk)
    if not can_lead(request.user, experiment.team_id):
        raise PermissionDenied("Only leads of this team (or staff) can delete its experiments.")
    if request.method == "POST":
        title = experiment.title
        services.experiment_delete(experiment=experiment, user=request.user)
        messages.success(request, f"Experiment “{title}” deleted.")
        return redirect("experiments:list")
    context = {"experiment": experiment, "lesson_count": experiment.lessons.count(),
               "application_count": experiment.lesson_applications.count()}
    return render(request, "experiments/experiment_confirm_delete.html", context)


@require_GET
def lesson_library(request: HttpRequest) -> HttpResponse:
    filterset = LessonFilter(request.GET or None, queryset=selectors.lesson_library(user=request.user),
                             request=request)
    context = _filtered_page(request, filterset)
    context["teams"] = Team.objects.order_by("name")
    context["hidden"] = selectors.lessons_hidden(user=request.user, params=request.GET, request=request)
    return render(request, "experiments/lesson_list.html", context)


@require_GET
def lesson_picker(request: HttpRequest) -> JsonResponse:
    """Search earlier lessons for the form's picker: ``?q=words&exclude=<experiment id>``."""
    exclude = None
    raw_exclude = request.GET.get("exclude", "")
    if raw_exclude.isdigit():
        exclude = Experiment.objects.filter(pk=int(raw_exclude)).first()
    lessons = selectors.lesson_picker(user=request.user, query=request.GET.get("q", "")[:200],
                                      exclude_experiment=exclude, limit=20)
    return JsonResponse({"results": [
        {"id": lesson.pk, "text": lesson.text, "team": lesson.team.name,
         "source": (lesson.experiment or lesson.postmortem).title, "documented_at": lesson.documented_at.date()}
        for lesson in lessons
    ]})
