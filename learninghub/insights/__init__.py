"""The top layer: metrics, dashboards, repeat detection. It reads the apps through their selectors
and writes through their services; no app imports it."""
