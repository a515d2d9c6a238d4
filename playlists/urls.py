from django.urls import path

from playlists import api, views

app_name = "playlists"

urlpatterns = [
    path("playlists/", views.index, name="index"),
    path("playlists/new/", views.create, name="create"),
    path("playlists/<int:playlist_id>/", views.detail, name="detail"),
    path("playlists/<int:playlist_id>/edit/", views.edit, name="edit"),
    path("playlists/<int:playlist_id>/playlist.m3u8", views.export_m3u8, name="m3u8"),
    path("playlists/<int:playlist_id>/playlist.json", views.export_json, name="json"),
    path("api/playlists/", api.PlaylistCreateView.as_view(), name="api-list"),
    path("api/playlists/<int:pk>/", api.PlaylistView.as_view(), name="api-detail"),
    path("api/playlists/<int:playlist_id>/export.m3u8", views.export_m3u8, name="api-m3u8"),
    path("api/playlists/<int:playlist_id>/export.json", views.export_json, name="api-json"),
]
