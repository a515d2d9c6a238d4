from django.urls import path

from search import api, api_seeds, views, views_seeds

app_name = "search"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.submit, name="submit"),
    path("explore/", views.explore, name="explore"),
    path("about/", views.about, name="about"),
    path("videos/<int:video_id>/", views.video_detail, name="video"),
    path("videos/<int:video_id>/progress/", views.progress, name="progress"),
    path("videos/<int:video_id>/progress.json", views.progress_json, name="progress_json"),
    path("videos/<int:video_id>/results/", views.results, name="results"),
    path("videos/<int:video_id>/more/", views.more_like_this, name="more_like_this"),
    # Several seeds (search/seeds.py): the tray's page and the API (docs/api.md).
    path("seeds/", views_seeds.seeds_results, name="seeds"),
    path("api/searches/seeds/", api_seeds.SeedSearchView.as_view(), name="api-seeds"),
    # Music tags as search words (search/tags.py): the vocabulary, the tag search, its page.
    path("api/tags/", api.TagListView.as_view(), name="api-tags"),
    path("api/tags/search/", api.TagSearchView.as_view(), name="api-tag-search"),
    path("tags/", views.tags, name="tags"),
]
