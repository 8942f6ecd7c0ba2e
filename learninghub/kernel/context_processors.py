from django.http import HttpRequest

from learninghub.kernel.charts import plotly_js


def assets(request: HttpRequest) -> dict:
    """The versioned plotly.js URL part, so templates can load the bundled copy."""
    return {"plotly_version": plotly_js()[1]}
