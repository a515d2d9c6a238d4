"""What several apps' admin pages share when an edit starts pipeline work: links to RQ jobs and
one re-materialisation per request, with a message to the editor."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django_rq.settings import get_queues_map

from mvsite.queues import QUEUE_DEFAULT
from pipeline.catalog_work import schedule_rematerialization
from search.models import Materialization


def rq_job_url(job_id: str, queue_name: str = QUEUE_DEFAULT) -> str:
    """The django-rq admin page of a job ('' if the dashboard is not installed)."""
    try:
        return reverse("admin:django_rq_job_detail", args=[get_queues_map()[queue_name], job_id])
    except (KeyError, NoReverseMatch):
        return ""


def job_link(job_id: str, queue_name: str = QUEUE_DEFAULT) -> SafeString | str:
    url = rq_job_url(job_id, queue_name) if job_id else ""
    return format_html('<a href="{}">{}</a>', url, job_id) if url else job_id


def request_rematerialization(
    modeladmin: admin.ModelAdmin, request: HttpRequest, reason: str
) -> Materialization:
    """Schedule one re-materialisation per admin request (a changelist POST may save many
    weights) and tell the editor which job does it."""
    run = getattr(request, "_mvsim_rematerialization", None)
    if run is None:
        run = schedule_rematerialization(reason)
        request._mvsim_rematerialization = run
        modeladmin.message_user(
            request,
            format_html(
                "Weights changed: the search vectors are re-materialised in background job {} "
                "(searches use the previous vectors until it finishes).",
                job_link(run.job_id),
            ),
            messages.INFO,
        )
    return run
