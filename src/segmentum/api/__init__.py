"""The HTTP interface (`segmentum serve`): FastAPI over the service layer only."""
