from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from catalog.selectors import catalog_videos


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "search/home.html", {"catalog_count": catalog_videos().count()})
