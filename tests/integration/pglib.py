"""A throwaway PostgreSQL 15 cluster from Debian's packages: initdb in a
temporary folder as nobody, listening on a unix socket there only; for the
head node's tests and benchmarks."""
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid as uuidlib

PG_BIN = "/usr/lib/postgresql/15/bin"


def start_cluster():
    """Starts a cluster: (its folder, which is its socket folder, and a
    function that stops and removes it)."""
    d = tempfile.mkdtemp(prefix="hull-pg-")
    os.chmod(d, 0o755)
    data = os.path.join(d, "data")
    os.mkdir(data)
    nobody = pwd.getpwnam("nobody")
    os.chown(data, nobody.pw_uid, nobody.pw_gid)
    os.chown(d, nobody.pw_uid, nobody.pw_gid)

    def as_nobody(*args):
        return subprocess.run(["runuser", "-u", "nobody", "--", *args],
                              capture_output=True, text=True, timeout=120,
                              cwd=d)
    r = as_nobody(os.path.join(PG_BIN, "initdb"), "-D", data, "-A", "trust",
                  "-U", "hull", "--no-sync")
    assert r.returncode == 0, r.stderr
    r = as_nobody(os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-w", "-l",
                  os.path.join(d, "log"), "-o",
                  f"-k {d} -c listen_addresses='' -c fsync=off", "start")
    assert r.returncode == 0, r.stderr + r.stdout

    def stop():
        as_nobody(os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-m",
                  "immediate", "stop")
        shutil.rmtree(d, ignore_errors=True)
    return d, stop


def pg_database(sock):
    """A fresh database in the cluster; its libpq URI."""
    name = "t" + uuidlib.uuid4().hex[:12]
    psql = os.path.join(PG_BIN, "psql")
    r = subprocess.run([psql if os.path.exists(psql) else "psql", "-h", sock,
                        "-U", "hull", "-d", "postgres", "-c",
                        f"CREATE DATABASE {name}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return f"postgresql:///{name}?host={sock}&user=hull"
