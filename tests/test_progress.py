"""methods/harness/progress.py: a training job's progress lines (iteration, rate, time left, metrics)."""
import io

from methods.harness.progress import Progress, duration


def test_a_line_every_five_percent_with_the_rate_and_the_time_left():
    now = [0.0]
    out = io.StringIO()
    p = Progress("joint_w two_circle/clean seed 0", 0, 1000, stream=out, clock=lambda: now[0])
    lines = []
    for it in range(1, 1001):
        now[0] = it * 0.01  # 100 iterations per second
        line = p.update(it, {"hsr": 0.5, "loss_g": 1.0})
        lines += [line] if line else []
    assert len(lines) == 20  # every 50 iterations, the last one included
    assert lines[0] == ("progress joint_w two_circle/clean seed 0: 50/1000 (5%), 100.0 it/s, 10 s left; hsr 0.5")
    assert lines[-1].startswith("progress joint_w two_circle/clean seed 0: 1000/1000 (100%)")
    assert out.getvalue().count("\n") == 20


def test_a_slow_run_gets_a_line_every_minute_and_a_resumed_one_counts_its_own_rate():
    now = [0.0]
    p = Progress("m", 500, 100_000, stream=io.StringIO(), clock=lambda: now[0])
    now[0] = 30.0
    assert p.update(510) is None
    now[0] = 61.0
    line = p.update(520)  # 20 iterations in 61 s since the resume at 500
    assert line is not None and "520/100000 (1%)" in line and "0.3 it/s" in line


def test_durations_read_as_hours_minutes_seconds():
    assert duration(42) == "42 s" and duration(660) == "11 min 00 s" and duration(3720) == "1 h 02 min"


def test_the_dag_status_reads_the_jobs_logs(tmp_path):
    """Two jobs of one method: one finished at 100 it/s, one halfway at 50 it/s; the rest wait at their method's
    measured rate or, without one, at the mean rate of all jobs."""
    from methods.harness import config as suite_config
    from methods.harness import status

    cfg = suite_config.load("smoke")
    suite_config.write(cfg, tmp_path / "config.yaml")
    jobs = suite_config.jobs(suite_config.read(tmp_path / "config.yaml"))
    first, second = [j for j in jobs if j.method == "wgan_gp"][:2]
    total = suite_config.hparams(cfg, "wgan_gp", first.runs[0].dataset)["iterations"]
    for job, (it, rate) in ((first, (total, 100.0)), (second, (total // 2, 50.0))):
        log = tmp_path / "jobs" / f"{job.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"noise\nprogress wgan_gp x: {it}/{total} ({it / total:.0%}), {rate:.1f} it/s, 1 s left\n")
    (tmp_path / "jobs" / f"{first.name}.json").write_text("{}")
    text = status.status(tmp_path, cores=2)
    assert f"1 of {len(jobs)} training jobs finished" in text
    assert "wgan_gp" in text and "1 done, 1 running" in text and "75.0 it/s" in text
    assert "training time left on 2 cores: about" in text
    assert status.last_progress(tmp_path / "missing.log") is None


def test_the_dag_status_counts_the_runs_of_published_parts_as_done(tmp_path):
    """Runs that a published part holds (results/published/<profile>/parts/*/part.json) get no job, as in the DAG,
    and count as done; a part's run that the profile does not ask for is left aside."""
    import json

    from methods.harness import config as suite_config
    from methods.harness import status

    cfg = suite_config.load("smoke")
    root = tmp_path / "results" / "smoke"
    suite_config.write(cfg, root / "config.yaml")
    runs = [r for r in suite_config.runs(cfg) if r.method == "gan"]
    stranger = {"dataset": "ring8", "setting": "clean", "method": "gan", "seed": 7}
    part = tmp_path / "results" / "published" / "smoke" / "parts" / "sitting1" / "part.json"
    part.parent.mkdir(parents=True)
    part.write_text(json.dumps({"runs": [{**vars(r)} for r in runs] + [stranger]}))
    text = status.status(root, cores=2)
    left = suite_config.jobs(cfg, skip=set(runs))
    assert len(left) < len(suite_config.jobs(cfg))
    assert f"0 of {len(left)} training jobs finished; {len(runs)} runs published by earlier sittings" in text
    assert f"gan {len(runs)} published, 0 done, 0 running, 0 waiting" in " ".join(text.split())
    total = sum(suite_config.hparams(cfg, r.method, r.dataset)["iterations"] for r in suite_config.runs(cfg))
    done = sum(suite_config.hparams(cfg, r.method, r.dataset)["iterations"] for r in runs)
    assert f"iterations: {done}/{total}" in text
