"""The harness around the methods: the suite's configuration (`config`; what each entry may say: `keys`), the runner
that trains one run
(`train`), the run folder's files and loaders (`runfiles`), file helpers (`io`) and the cost benchmark (`bench`).
Nothing here is a method; `methods.available()` lists method files only."""
