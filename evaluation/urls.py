from django.urls import path

from evaluation import views

app_name = "evaluation"

urlpatterns = [
    path("evaluation/", views.evaluation_page, name="evaluation"),
    path("evaluation/runs/<int:pk>.csv", views.run_csv, name="run_csv"),
    path("evaluation/runs/<int:pk>.json", views.run_json, name="run_json"),
    path("map/", views.map_page, name="map"),
]
