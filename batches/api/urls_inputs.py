"""Routes of the material master, lots, equipment, line clearances and monitoring under /api/v1/."""

from django.urls import URLPattern, URLResolver
from rest_framework.routers import DefaultRouter

from batches.api import inputs

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("materials", inputs.MaterialViewSet, basename="material")
router.register("material-lots", inputs.MaterialLotViewSet, basename="material-lot")
router.register("equipment", inputs.EquipmentViewSet, basename="equipment")
router.register("line-clearances", inputs.LineClearanceViewSet, basename="line-clearance")
router.register("monitoring-sessions", inputs.MonitoringSessionViewSet, basename="monitoring-session")
router.register("batches", inputs.BatchInputsViewSet, basename="batch-inputs")
router.register("process-definitions", inputs.DefinitionRequirementsViewSet, basename="definition-requirements")

urlpatterns: list[URLPattern | URLResolver] = [*router.urls]
