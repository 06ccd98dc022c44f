"""docker: true zones: the image's entrypoint/cmd, env, workdir and user
from internal_metadata docker:* keys; exit status recorded, no restart."""
import json
import os

from zonekit import zones, wait_for, pid_alive, cgroup_dirs, cgroup_pids  # noqa: F401


def docker_record(**keys):
    im = {"docker:entrypoint": json.dumps(["/bin/sh", "-c"]),
          "docker:cmd": json.dumps(["echo \"foo=$FOO\"; pwd; id -u; id -g; exit 5"]),
          "docker:env": json.dumps(["FOO=bar"]),
          "docker:workdir": "/tmp",
          "docker:user": "nobody"}
    im.update(keys)
    return {"brand": "lx", "docker": True, "kernel_version": "4.3.0",
            "internal_metadata": im}


def test_docker_runs_the_image_command(zones):
    z = zones.new(docker_record(), init=None)
    assert wait_for(lambda: not pid_alive(z.supervisor_pid()), 10)
    log = z.console_log().replace("\r", "").splitlines()
    assert log[:4] == ["foo=bar", "/tmp", "65534", "65534"], log
    _ms, status = z.lastexited()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 5
    # It ran: its cgroup tree stays, empty, for its next start.
    assert cgroup_dirs(z.cgroup) and not cgroup_pids(z.cgroup)


def test_docker_restart_policy_and_capabilities(zones):
    rec = docker_record(**{
        "docker:cmd": json.dumps(["grep CapBnd /proc/self/status; sleep 0.2; exit 1"]),
        "docker:restartpolicy": "on-failure:2", "docker:user": "0:0"})
    z = zones.new(rec, init=None)
    # Ran, failed, restarted twice (with back-off), then gave up.
    assert wait_for(lambda: not pid_alive(z.supervisor_pid()), 20)
    log = z.console_log()
    assert log.count("CapBnd") == 3, log
    bnd = int(log.split("CapBnd:")[1].split()[0], 16)
    assert not bnd & (1 << 21)  # docker zones have no CAP_SYS_ADMIN


def test_docker_bad_metadata_is_one_line(zones):
    z = zones.new(docker_record(**{"docker:cmd": "not json", "docker:entrypoint": None}),
                  init=None, start=False)
    r = z.host.fails("hull-supervisor", z.uuid)
    assert "docker:cmd" in r.err
    z2 = zones.new(docker_record(**{"docker:user": "nosuchuser"}), init=None,
                   start=False)
    r = z2.host.fails("hull-supervisor", z2.uuid)
    assert "no user nosuchuser" in r.err
    assert not cgroup_dirs(z2.cgroup)
