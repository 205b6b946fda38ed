"""odc-agent's command line for tests: the binary under test (ODC_BUILD, default build/)
and an agent.conf written for an odcworld.OdcHost."""

import json
import os
import subprocess

from tests.world.odcworld import REPO_ROOT

BUILD = os.environ.get("ODC_BUILD", "build")
AGENT = os.path.join(REPO_ROOT, BUILD, "odc-agent") if not os.path.isabs(BUILD) else os.path.join(BUILD, "odc-agent")


def write_conf(host, path, **over):
    """An agent config for host; over: {"section.key": value} replaces or adds."""
    state = os.path.join(host.dir, "agent-state")
    vals = {
        "agent.host_id": "h1",
        "agent.state_dir": state,
        "docker.socket": host.engine.socket,
        "docker.container": host.name,
        "docker.repository": host.images.repository,
        "docker.stop_timeout": "20s",
        "metadb.host": host.db_host,
        "metadb.port": str(host.db_port),
        "metadb.user": host.user,
        "metadb.tenant": host.tenant,
        "metadb.cluster": host.cluster,
        "metadb.password_file": host.password_file,
        "metadb.database": host.db,
        "loader.obloader": host.obloader,
        "loader.obdumper": host.obdumper,
        "paths.backup_roots": host.dir,
        "paths.snapshot_root": host.snapshot_root,
        "deadlines.health": "60s",
        "health.url": host.base_url,
        "health.interval": "250ms",
        "defaults.binds": f"{host.log_dir}:/opt/odc/log, {host.data_dir}:/opt/odc/data",
    }
    vals.update(over)
    sections = {}
    for k, v in vals.items():
        s, key = k.split(".", 1)
        sections.setdefault(s, []).append(f"{key} = {v}")
    with open(path, "w") as f:
        for s, lines in sections.items():
            f.write(f"[{s}]\n" + "\n".join(lines) + "\n")
    return path


def agent(conf, *args, timeout=240, env=None, check=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([AGENT, "-c", conf, *args], capture_output=True, text=True,
                       timeout=timeout, env=e)
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def journal(conf, job_id=None, timeout=30, binary=AGENT):
    """`odc-agent -c conf journal [JOB] -o json`, the document it prints (README, "the
    journal"): {job_id, plans: [{job_id, action, phase, state, params, started_ms, ended_ms,
    deadline_ms, steps: [{step, status, exit_code, started_ms, duration_ms, message,
    output_tail, data}]}], facts, revert_facts}, the plans in phase order (preflight, run,
    revert), the steps in the order they ran, the facts of the job and those its revert phase
    keeps apart; without job_id {unfinished: such a plan or None}."""
    p = subprocess.run([str(binary), "-c", str(conf), "journal", *([job_id] if job_id else []),
                        "-o", "json"], capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"odc-agent -c {conf} journal {job_id or ''} -o json: exit " \
        f"{p.returncode}\n{p.stdout}\n{p.stderr}"
    return json.loads(p.stdout)
