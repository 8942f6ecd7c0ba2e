"""Importing runs from an MLflow tracking server into the experiment registry (DESIGN.md
"MLflow and the failure-management client"): ``rest`` reads MLflow's REST API, ``sync`` maps
runs to experiments and keeps each mapping's cursor."""
