"""The strategies benchmark of scripts/bench-strategies.sh.

For each strategy, a throwaway project routed through a real HAProxy (the distribution's
package) in front of demo app servers on loopback: deploy 1.0.0, then with 4 clients sending
requests through the frontend, deploy 1.1.0 and put 1.0.0 back (`runner rollback`; for the
canary, `runner abort` of a paused 1.1.0). Prints requests and errors per run, and the time
from the command's start to the last request answered by the release being left (the time to
100 % on the previous release), and the slowest request. "restart in place" is the peer: the deploy hook restarts the
single app behind the same HAProxy, as a script around a health loop does.
"""
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

runner, demo_app, repo = sys.argv[1:4]
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Load:
    def __init__(self, port, clients=4):
        self.port, self.samples, self.stop = port, [], False
        # Daemons: a run that fails (sys.exit) must not wait for its load forever.
        self.threads = [threading.Thread(target=self.client, daemon=True) for _ in range(clients)]
        for t in self.threads:
            t.start()

    def client(self):
        while not self.stop:
            start = time.monotonic()
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                c.request("GET", "/")
                r = c.getresponse()
                body = r.read().decode().strip()
                answer = body.removeprefix("version ") if r.status == 200 else f"HTTP {r.status}"
                c.close()
            except OSError as e:
                answer = f"error {e}"
            self.samples.append((start, time.monotonic(), answer))
            time.sleep(0.002)

    def end(self):
        self.stop = True
        for t in self.threads:
            t.join()
        return self.samples


class Project:
    def __init__(self, strategy, servers, rollout="", router="haproxy"):
        self.dir = tempfile.mkdtemp()
        self.frontend = free_port()
        self.servers = [(name, free_port(), slot) for name, slot in servers]
        shutil.copytree(os.path.join(repo, "migrations"), os.path.join(self.dir, "migrations"))
        os.makedirs(os.path.join(self.dir, "haproxy"))
        deploy = os.path.join(repo, "scripts", "deploy.sh")
        db = f"sqlite://{self.dir}/production.db"
        first_slot = self.servers[0][2]
        lines = []
        for name, port, slot in self.servers:
            weight = 256 if slot is None or slot == first_slot else 0
            lines.append(f"    server {name} 127.0.0.1:{port} weight {weight} check inter 100ms rise 1 fall 2")
        with open(os.path.join(self.dir, "haproxy", "haproxy.cfg"), "w") as f:
            f.write(f"""global
    stats socket {self.dir}/haproxy/admin.sock mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout
frontend web
    bind 127.0.0.1:{self.frontend}
    default_backend app
backend app
    balance roundrobin
    option httpchk GET /health
""" + "\n".join(lines) + "\n")
        self.router = router
        if router == "nginx":
            # The same two slots behind nginx: runner rewrites upstream.conf and reloads.
            d = os.path.join(self.dir, "nginx")
            os.makedirs(os.path.join(d, "tmp"))
            with open(os.path.join(d, "upstream.conf"), "w") as f:
                f.write("upstream app {\n" + "".join(
                    f"    server 127.0.0.1:{port} {'weight=256' if slot is None or slot == first_slot else 'down'};\n"
                    for _, port, slot in self.servers) + "}\n")
            temps = "".join(f"    {t}_temp_path {d}/tmp/{t};\n" for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"])
            with open(os.path.join(d, "nginx.conf"), "w") as f:
                f.write(f"""worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 512; }}
http {{
    access_log off;
{temps}    include {d}/upstream.conf;
    server {{
        listen 127.0.0.1:{self.frontend};
        location / {{ proxy_pass http://app; proxy_next_upstream error timeout; }}
    }}
}}
""")
            self.nginx_cmd = [NGINX, "-p", d, "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf"]
            self.haproxy = subprocess.Popen(self.nginx_cmd + ["-g", "daemon off;"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        else:
            self.haproxy = subprocess.Popen([HAPROXY, "-db", "-f", os.path.join(self.dir, "haproxy", "haproxy.cfg")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        env = f'[migrations]\ndialect = "sqlite"\n[deploy]\npipeline = ["production"]\n[environments.production]\ndatabase_url = "{db}"\n'
        if strategy == "all-at-once":
            name, port, _ = self.servers[0]
            env += (f'deploy = ["{deploy}", "{{env}}", "{{version}}", "{port}", "{db}"]\n'
                    f'rollback = ["{deploy}", "{{env}}", "{{previous_version}}", "{port}", "{db}"]\n'
                    f'health = {{ url = "http://127.0.0.1:{port}/health", timeout = "10s", interval = "100ms" }}\n')
        else:
            listed = ", ".join(
                f'{{ name = "{n}", address = "127.0.0.1:{p}"' + (f', slot = "{s}"' if s else "") + " }"
                for n, p, s in self.servers)
            env += (f'strategy = "{strategy}"\nservers = [{listed}]\n'
                    + (self.nginx_router() if router == "nginx" else
                       'router = { kind = "haproxy", socket = "haproxy/admin.sock", backend = "app" }\n')
                    +
                    f'deploy = ["{deploy}", "{{env}}-{{server}}", "{{version}}", "{{port}}", "{db}"]\n'
                    f'stop = ["{deploy}", "{{env}}-{{server}}", "", "{{port}}", ""]\n'
                    f'health = {{ url = "http://{{address}}/health", timeout = "10s", interval = "100ms" }}\n'
                    + (f"[environments.production.rollout]\n{rollout}\n" if rollout and not rollout.startswith("\n") else rollout))
        with open(os.path.join(self.dir, "runner.toml"), "w") as f:
            f.write(env)

    def nginx_router(self):
        argv = lambda *a: "[" + ", ".join(f'"{x}"' for x in self.nginx_cmd + list(a)) + "]"
        return (f'router = {{ kind = "nginx", file = "nginx/upstream.conf", upstream = "app", pid = "nginx/nginx.pid", '
                f'test = {argv("-t", "-q")}, reload = {argv("-s", "reload")} }}\n')

    def run(self, *args, behavior="", expect=0):
        env = dict(os.environ, RUNNER_DEMO_APP=demo_app, RUNNER_DEMO_STATE=os.path.join(self.dir, "state"),
                   DEMO_BEHAVIOR=behavior)
        out = subprocess.run([runner, *args], cwd=self.dir, env=env, capture_output=True, text=True)
        if out.returncode != expect:
            sys.exit(f"runner {' '.join(args)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")

    def close(self):
        state = os.path.join(self.dir, "state")
        for f in os.listdir(state) if os.path.isdir(state) else []:
            if f.endswith(".pid"):
                subprocess.run(["kill", open(os.path.join(state, f)).read().strip()], stderr=subprocess.DEVNULL)
        if self.router == "nginx":
            self.haproxy.terminate()
        else:
            self.haproxy.kill()
        self.haproxy.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def time_to(samples, since, release):
    """From `since` to the end of the last request answered by anything but `release`."""
    late = [end for start, end, answer in samples if start >= since and answer != release]
    return (max(late) - since) if late else 0.0


def measure(name, strategy, servers, rollout, back, router="haproxy"):
    p = Project(strategy, servers, rollout, router)
    try:
        p.run("deploy", "--env", "production", "--version", "1.0.0", "--with-migrations")
        load = Load(p.frontend)
        time.sleep(0.5)
        # A canary paused by hand exits 9: it waits for `runner promote` or `runner abort`.
        p.run("deploy", "--env", "production", "--version", "1.1.0",
              expect=9 if 'pause = "manual"' in rollout else 0)
        time.sleep(0.5)
        t0 = time.monotonic()
        p.run(*back)
        took = time.monotonic() - t0
        time.sleep(0.5)
        samples = load.end()
        errors = [a for _, _, a in samples if not a[0].isdigit()]
        switched = time_to(samples, t0, "1.0.0")
        slowest = max(end - start for start, end, _ in samples)
        print(f"{name:<22} {len(samples):>8} {len(errors):>7} {slowest * 1000:>13.0f} {took:>12.2f} {switched:>14.2f}")
        return errors
    finally:
        p.close()


def breach(name, strategy, rollout, behavior, extra):
    """A release that breaches its error-rate threshold in traffic: from the first failed
    request to the last one answered by it (the previous release serving 100 % again)."""
    p = Project(strategy, [("blue", "blue"), ("green", "green")],
                rollout + '\n[environments.production.metrics]\nscrape = "http://{address}/metrics"\nwindow = "2s"\n')
    try:
        p.run("deploy", "--env", "production", "--version", "1.0.0", "--with-migrations")
        load = Load(p.frontend)
        time.sleep(0.5)
        p.run("deploy", "--env", "production", "--version", "1.1.0", *extra, behavior=behavior, expect=4)
        time.sleep(0.5)
        samples = load.end()
        bad = [(s, e) for s, e, a in samples if a != "1.0.0"]
        first = min(s for s, _ in bad)
        last = max(e for _, e in bad)
        errors = sum(1 for _, _, a in samples if a.startswith("HTTP 5"))
        print(f"{name:<36} {len(samples):>8} {errors:>7} {last - first:>22.2f}")
    finally:
        p.close()


import functools
print = functools.partial(print, flush=True)
print(f"{'strategy':<22} {'requests':>8} {'errors':>7} {'slowest (ms)':>13} {'command (s)':>12} {'to 100% (s)':>14}")
two = [("blue", "blue"), ("green", "green")]
measure("restart in place", "all-at-once", [("app", None)], "", ["rollback", "--env", "production"])
measure("blue-green", "blue-green", two, "", ["rollback", "--env", "production"])
measure("canary (abort)", "canary", two, 'pause = "manual"', ["abort", "--env", "production"])
measure("canary 5-25-100", "canary", two, 'pause = "1s"', ["rollback", "--env", "production"])
measure("rolling (4 servers)", "rolling", [(f"app{i}", None) for i in range(1, 5)], "", ["rollback", "--env", "production"])
measure("blue-green, nginx", "blue-green", two, "", ["rollback", "--env", "production"], router="nginx")
measure("canary (abort), nginx", "canary", two, 'pause = "manual"', ["abort", "--env", "production"], router="nginx")

print()
print(f"{'breach (the release fails in traffic)':<36} {'requests':>8} {'5xx':>7} {'breach to 100 % (s)':>22}")
breach("canary, 5 % errors, 2 s window", "canary", 'pause = "2s"', "1.1.0=errors:5", [])
breach("blue-green, 20 % errors, --watch", "blue-green", "", "1.1.0=errors:20", ["--watch", "10s"])
