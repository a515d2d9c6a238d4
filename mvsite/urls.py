from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from mvsite import media, views
from search import api

router = DefaultRouter()
router.register("genres", api.GenreViewSet, basename="api-genre")
router.register("videos", api.VideoViewSet, basename="api-video")

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI over the schema, its JS and CSS from drf-spectacular-sidecar's static files;
    # its inline script and style carry the CSP nonce (templates/drf_spectacular/), and its CSS
    # and JS draw icons as data: SVG images, allowed on this page only.
    path(
        "api/docs/",
        csp_update({"img-src": ["data:"]})(SpectacularSwaggerView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("api/searches/", api.SearchCreateView.as_view(), name="api-searches"),
    path("api/jobs/<int:pk>/", api.JobView.as_view(), name="api-job"),
    path("api/", include(router.urls)),
    path("", include("evaluation.urls")),
    path("", include("playlists.urls")),
    path("", include("search.urls")),
]

if settings.SERVE_MEDIA:
    # With Range support (django.views.static.serve has none), so <video>#t=N can seek.
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", media.serve_media, name="media")]

handler404 = "mvsite.views.not_found"
