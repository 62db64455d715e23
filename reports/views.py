import tempfile
from functools import partial

from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseBase,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils.translation import gettext as _

from scoring.exports import write_xlsx

from .charts import STAGE_LABELS, bin_label, dashboard_charts
from .exports import DATASETS
from .forms import ReportFilterForm, ReportFilters
from .permissions import can_export, can_view_dashboards
from .selectors import Dashboard, Histogram, dashboard_get

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def dashboard(request: HttpRequest) -> HttpResponse:
    if not can_view_dashboards(request.user):
        raise PermissionDenied
    form = ReportFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        context = {"form": form, "can_export": can_export(request.user)}
        return render(request, "reports/dashboard.html", context, status=400)
    if not request.GET:
        form = ReportFilterForm({})
        form.is_valid()  # fills the default period
    filters = form.filters()
    data = dashboard_get(filters=filters)
    context = {
        "form": form,
        "filters": filters,
        "data": data,
        # Callables: the template calls them only when its cached fragments need rendering.
        "charts": partial(dashboard_charts, data),
        "stage_labels": STAGE_LABELS,
        "histogram_rows": partial(_histogram_rows, data),
        "export_query": request.GET.urlencode(),
        "can_export": can_export(request.user),
        "datasets": list(DATASETS),
    }
    return render(request, "reports/dashboard.html", context)


def _histogram_rows(data: Dashboard) -> list[tuple[Histogram, list[tuple[str, int]]]]:
    return [
        (histogram, [(bin_label(low, high), n) for low, high, n in histogram.bins])
        for histogram in data.histograms
    ]


def _filename(dataset: str, filters: ReportFilters, extension: str) -> str:
    return f"{dataset}-{filters.date_from}-{filters.date_to}.{extension}"


def export(request: HttpRequest, dataset: str, extension: str) -> HttpResponseBase:
    if not can_export(request.user):
        raise PermissionDenied
    if dataset not in DATASETS:
        raise Http404
    form = ReportFilterForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(str(error) for errors in form.errors.values() for error in errors)
        return HttpResponseBadRequest(
            _("The export filters are not valid: %(problems)s") % {"problems": problems},
            content_type="text/plain; charset=utf-8",
        )
    filters = form.filters()
    chosen = DATASETS[dataset]
    filename = _filename(dataset, filters, extension)
    if extension == "csv":
        response = StreamingHttpResponse(
            chosen.csv_bytes(filters), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    # XLSX is a zip whose directory comes last: the rows go to a temporary file (constant
    # memory), which is then sent in blocks and deleted when the response closes.
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 - FileResponse closes it
    write_xlsx(chosen.rows(filters), chosen.columns, handle, sheet_name=dataset)
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_TYPE)
