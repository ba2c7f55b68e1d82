"""Evaluation (SPEC §4): metrics as plain functions on arrays (`metrics2d`), the per-run evaluation
(`evaluate`), aggregation into results/<profile>/metrics.csv (`aggregate`), tables and figures."""
