"""Evaluation: metrics as plain functions on arrays, each module's docstring the definitions (`metrics2d`: 2-D,
`images` with `classifier`: images), the per-run evaluation (`evaluate`), the references (`references`), the
"trained" judgement (`trained`), aggregation into results/<profile>/metrics.csv (`aggregate`), tables, figures, the
claims report (`claims`: the paper's claims C1-C8 as tested) and the bilinear game (`bilinear_game`)."""
