"""Trained model versions: artifacts on disk, metrics and history in the database."""

from __future__ import annotations

from django.db import models, transaction
from django.db.models import Q


class ModelVersion(models.Model):
    name = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    is_active = models.BooleanField(default=False, db_index=True)
    artifact_dir = models.CharField(max_length=500, help_text="Relative to MEDIA_ROOT.")
    model_path = models.CharField(max_length=500, blank=True)
    scaler_path = models.CharField(max_length=500, blank=True)
    labels_path = models.CharField(max_length=500, blank=True)
    history_plot_path = models.CharField(max_length=500, blank=True)
    confusion_plot_path = models.CharField(max_length=500, blank=True)
    genres = models.JSONField(default=list, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    history = models.JSONField(default=dict, blank=True)
    config = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"
            )
        ]

    def __str__(self) -> str:
        return self.name or f"Model {self.pk}"

    @property
    def val_accuracy(self) -> float | None:
        return self.metrics.get("val_accuracy")

    @property
    def baseline_val_accuracy(self) -> float | None:
        return self.metrics.get("baseline_val_accuracy")

    def activate(self) -> None:
        with transaction.atomic():
            ModelVersion.objects.filter(is_active=True).exclude(pk=self.pk).update(is_active=False)
            self.is_active = True
            self.save(update_fields=["is_active"])
