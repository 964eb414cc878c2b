"""End-to-end latency of the ROS 2 shield node: Twist on cmd_in -> Twist on cmd_out, over DDS on
loopback, at 100 / 500 / 1000 Hz command rates, beside a bare rclpy echo node (the floor).

    python3 bench/ros_latency.py [--duration 60] [--rates 100 500 1000] [--rounds 1] [--json out.json]
    python3 bench/ros_latency.py --in-process 5000     # the node's own per-command cost
    python3 bench/ros_latency.py --in-process 5000 --gap-ms 2   # ... with 2 ms idle before each

Run with any Python: it installs/uses .venv-ros (scripts/ros_env.sh) and re-runs itself inside a
loopback-only network namespace (tests/ros/netns.sh). Each (target, rate) run starts a fresh node
process; this process is the probe: one thread, one EventsExecutor, publishing the commands from a
timer (plus odometry at ~50 Hz on its own timer, robot far from every hazard so the shield passes commands
unchanged), each carrying a sequence number in linear.x, and stamping each matching cmd_out.
Latency = receipt - send on the monotonic clock. "missed" = commands with no matching output.
The shield's own filter compute time comes from its 1-Hz /diagnostics windows. The 1-minute load average is recorded before and
after each run: on a shared machine it says how much of a tail is the machine's.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEQ_SCALE = 1e-6      # command i carries linear.x = i * 1e-6 (inside the action bounds, passes)
ODOM_HZ = 49.9        # state rate (see run_one)


def outer(argv: list[str]) -> int:
    venv = subprocess.run([str(REPO / "scripts" / "ros_env.sh")], check=True, cwd=REPO,
                          capture_output=True, text=True).stdout.strip().splitlines()[-1]
    py = str(REPO / venv / "bin" / "python")
    return subprocess.call([str(REPO / "tests" / "ros" / "netns.sh"), str(150 + os.getpid() % 50),
                            py, __file__, "--inner", *argv], cwd=REPO)


def _executor():
    from rclpy.experimental import EventsExecutor
    return EventsExecutor()


def echo_main() -> int:
    """The floor: a bare rclpy node that republishes cmd_in on cmd_out, same QoS as the shield."""
    import rclpy
    from geometry_msgs.msg import Twist
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    rclpy.init()
    node = rclpy.create_node("echo")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Twist, "cmd_out", qos)
    node.create_subscription(Twist, "cmd_in", pub.publish, qos)
    executor = _executor()              # the same executor the shield node uses
    executor.add_node(node)
    try:
        while rclpy.ok():               # bounded waits so SIGINT is seen, as in the shield node
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    rclpy.try_shutdown()
    return 0


def in_process(n: int, gap_s: float = 0.0) -> dict:
    """Per-command cost of the node's own code, no DDS wait: the cmd_in callback (adapter,
    supervisor, core decide, building and publishing cmd_out and ~/state) called directly.
    ``gap_s`` > 0 sleeps that long before each call, as between commands at 1/gap_s Hz: on a
    small VM the code then runs with cold caches, several times slower than back to back."""
    import numpy as np
    import rclpy
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    sys.path.insert(0, str(REPO / "src"))
    from safe_shield.ros.node import ShieldNode

    rclpy.init(args=["--ros-args", "--params-file", str(REPO / "config" / "shield_node.yaml"),
                     "-p", f"model:={REPO / 'models' / 'point_hazards_ssa'}"])
    node = ShieldNode()
    node.trigger_configure()
    node.trigger_activate()
    odom = Odometry()
    odom.pose.pose.position.x, odom.pose.pose.orientation.w = -1.8, 1.0
    cmd = Twist()
    cmd.linear.x, cmd.linear.y = 0.3, 0.1
    t_cb, outcomes = np.empty(n), set()
    for i in range(n + 500):                       # 500 warm-up calls
        if i % 20 == 0:                            # keep the state fresh (50 Hz-ish)
            odom.pose.pose.position.x = -1.8 + 1e-5 * (i % 1000)    # a new state each time
            odom.header.stamp = node.get_clock().now().to_msg()
            node._on_state(odom)
            stamp, until = odom.header.stamp.sec + odom.header.stamp.nanosec * 1e-9, time.monotonic() + 0.1
            while node.sup.sample.stamp != stamp and time.monotonic() < until:
                time.sleep(1e-4)                   # the background preparer commits the state
        if gap_s:
            time.sleep(gap_s)
        t0 = time.perf_counter()
        node._on_command(cmd)
        if i >= 500:
            t_cb[i - 500] = time.perf_counter() - t0
    outcomes = dict(node.sup.outcomes)
    ct = np.array(node.sup.compute_times)
    node.destroy_node()
    rclpy.try_shutdown()
    return {"calls": n, "gap_ms": gap_s * 1e3, "callback_median_us": float(np.median(t_cb) * 1e6),
            "callback_p99_us": float(np.percentile(t_cb, 99) * 1e6),
            "decide_median_us": float(np.median(ct) * 1e6),
            "decide_p99_us": float(np.percentile(ct, 99) * 1e6), "outcomes": outcomes}


def run_one(target: str, rate: float, duration: float, warmup: float,
            rt_priority: int = 0, cpus: tuple[int, int] | None = None) -> dict:
    """One (target, rate) run. This process is the probe: on one thread and one EventsExecutor it
    publishes the commands from a timer (and odometry at 50 Hz) and stamps each matching cmd_out,
    so sending and receiving never compete for a GIL and the harness is one process beside the
    node under test. The shield's own compute comes from its 1-Hz /diagnostics."""
    import numpy as np
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import Twist
    from nav_msgs.msg import Odometry
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data

    n_total = int((warmup + duration) * rate)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}:{REPO}"}
    if target == "echo":
        cmd = [sys.executable, __file__, "--echo"]
    else:
        cmd = [sys.executable, "-m", "safe_shield.ros.node", "--ros-args", "--params-file",
               str(REPO / "config" / "shield_node.yaml"), "-p",
               f"model:={REPO / 'models' / 'point_hazards_ssa'}", "-p", "autostart:=true",
               "-p", "qos_depth:=10"]
    # --rt-priority: the node (shield or echo floor alike) and this probe run SCHED_FIFO, as a
    # control stack would be deployed on a robot computer; 0 keeps the default scheduler.
    rt = ["chrt", "-f", str(rt_priority)] if rt_priority else []
    if cpus:                           # --cpus: the node on its own core, as on a robot computer
        rt = ["taskset", "-c", str(cpus[1])] + rt
    proc = subprocess.Popen(rt + cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    node = rclpy.create_node(f"bench_probe_{target}_{int(rate)}")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Twist, "cmd_in", qos)
    pub_odom = node.create_publisher(Odometry, "state", qos_profile_sensor_data)
    sent, recv = np.full(n_total, np.nan), np.full(n_total, np.nan)
    windows: list[tuple[float, float, float]] = []     # shield compute p50 / p99 / max per window

    def on_out(msg: Twist) -> None:
        i = int(round(msg.linear.x / SEQ_SCALE))
        if 0 <= i < n_total and msg.linear.x != 0.0:
            recv[i] = time.monotonic()

    def on_diagnostics(arr: DiagnosticArray) -> None:
        for st in arr.status:
            kv = {v.key: v.value for v in st.values}
            if math.isfinite(float(kv.get("compute_p50_us", "nan"))):   # nan: no decision
                windows.append((float(kv["compute_p50_us"]), float(kv["compute_p99_us"]),
                                float(kv["compute_max_us"])))

    node.create_subscription(Twist, "cmd_out", on_out, qos)
    node.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, qos)
    executor = _executor()
    executor.add_node(node)

    odom = Odometry()                  # robot far from every hazard: every command passes
    odom.pose.pose.position.x, odom.pose.pose.orientation.w = -1.8, 1.0
    clock = node.get_clock()
    n_odom = 0

    def publish_odom() -> None:
        # The robot drifts slowly (±5 cm, ±5 cm/s), so every state is new and the shield does its
        # per-state work for each one, as on a moving robot; it stays far from every hazard.
        nonlocal n_odom
        n_odom += 1
        odom.pose.pose.position.x = -1.8 + 0.05 * math.sin(0.05 * n_odom)
        odom.twist.twist.linear.x = 0.05 * math.cos(0.05 * n_odom)
        odom.header.stamp = clock.now().to_msg()
        pub_odom.publish(odom)

    end = time.monotonic() + 30        # discovery: node <- probe, node -> probe
    while time.monotonic() < end and not (
            pub.get_subscription_count() > 0 and node.count_subscribers("cmd_out") > 0
            and (target == "echo" or pub_odom.get_subscription_count() > 0)):
        executor.spin_once(timeout_sec=0.05)
    for _ in range(25):                # the shield's state is fresh before the first command
        publish_odom()
        executor.spin_once(timeout_sec=0.02)

    load_before = os.getloadavg()[0]
    msg = Twist()                      # publish serialises at the call: one message is reused
    i = 0

    def on_tick() -> None:
        nonlocal i
        if i >= n_total:
            return
        msg.linear.x = i * SEQ_SCALE if i else SEQ_SCALE * 0.5    # 0 would read as a stop
        sent[i] = time.monotonic()
        pub.publish(msg)
        i += 1

    timer = node.create_timer(1.0 / rate, on_tick)
    # Odometry on its own timer, unsynchronised with the commands as a separate state estimator
    # is: at ODOM_HZ its phase drifts through the command period about once a second, so a state
    # lands just before a command at the natural rate rather than always or never.
    odom_timer = node.create_timer(1.0 / ODOM_HZ, publish_odom)
    while i < n_total:
        executor.spin_once(timeout_sec=0.1)
    timer.cancel()
    odom_timer.cancel()
    end = time.monotonic() + 1.5       # the last outputs, and one more /diagnostics window
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
    load_after = os.getloadavg()[0]
    node.destroy_node()
    proc.send_signal(2)
    proc.wait(10)

    k = int(warmup * rate)
    lat = (recv[k:] - sent[k:]) * 1e6
    got = lat[np.isfinite(lat)]
    win = np.array(windows[1:] or windows or [(np.nan,) * 3])   # the first window is warm-up
    return {
        "_latencies_us": got,
        "target": target, "rate_hz": rate, "sent": int(n_total - k), "missed": int(np.isnan(lat).sum()),
        "median_us": float(np.median(got)) if got.size else None,
        "p99_us": float(np.percentile(got, 99)) if got.size else None,
        "max_us": float(got.max()) if got.size else None,
        "achieved_send_rate_hz": float((n_total - k - 1) / (sent[-1] - sent[k])),
        # medians over the 1-s windows of the window's own median / p99; max over all
        "filter_compute_median_us": float(np.median(win[:, 0])) if windows else None,
        "filter_compute_p99_us": float(np.median(win[:, 1])) if windows else None,
        "filter_compute_max_us": float(np.max(win[:, 2])) if windows else None,
        "loadavg_1min_before": load_before, "loadavg_1min_after": load_after,
    }


def _pooled(runs: list[dict], floor_runs: list[dict]) -> dict:
    """One row from a target's rounds: latency figures over all rounds' commands together, the
    filter compute as the median of the rounds', and each round's p99 over its paired floor
    round's p99 (round i of the shield ran right after round i of the floor)."""
    import numpy as np
    lat = np.concatenate([r["_latencies_us"] for r in runs])
    row = {k: v for k, v in runs[0].items() if not k.startswith("_")}
    row.update(
        rounds=len(runs), sent=sum(r["sent"] for r in runs), missed=sum(r["missed"] for r in runs),
        median_us=float(np.median(lat)) if lat.size else None,
        p99_us=float(np.percentile(lat, 99)) if lat.size else None,
        max_us=float(lat.max()) if lat.size else None,
        round_p99_us=[r["p99_us"] for r in runs],
        round_p99_over_floor=[r["p99_us"] / f["p99_us"] if r["p99_us"] and f["p99_us"] else None
                              for r, f in zip(runs, floor_runs)],
        loadavg_1min_before=runs[0]["loadavg_1min_before"],
        loadavg_1min_after=runs[-1]["loadavg_1min_after"])
    for key in ("filter_compute_median_us", "filter_compute_p99_us"):
        vals = [r[key] for r in runs if r[key] is not None]
        row[key] = float(np.median(vals)) if vals else None
    vals = [r["filter_compute_max_us"] for r in runs if r["filter_compute_max_us"] is not None]
    row["filter_compute_max_us"] = max(vals) if vals else None
    return row


def inner(args) -> int:
    import rclpy
    rclpy.init()
    if args.rt_priority:                 # the probe too (this process); the node via chrt
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.rt_priority))
    if args.cpus:
        os.sched_setaffinity(0, {args.cpus[0]})
    rows, round_rows = [], []
    for rate in args.rates:
        runs = {"echo": [], "shield": []}
        for _ in range(args.rounds):     # alternating, so both sample the same noisy minutes
            for target in ("echo", "shield"):
                r = run_one(target, rate, args.duration / args.rounds, args.warmup,
                            args.rt_priority, args.cpus)
                runs[target].append(r)
                round_rows.append({k: v for k, v in r.items() if not k.startswith("_")})
                print(json.dumps(round_rows[-1]), flush=True)
        for target in ("echo", "shield"):
            rows.append(_pooled(runs[target], runs["echo"]))
    rclpy.try_shutdown()
    print(f"\n{'rate':>6} {'target':>7} {'median µs':>10} {'p99 µs':>9} {'max µs':>9} "
          f"{'missed':>7} {'p99/floor':>9} {'filter p50/p99 µs':>18} {'load':>9}  per-round p99/floor")
    for r in rows:
        floor = next(f for f in rows if f["rate_hz"] == r["rate_hz"] and f["target"] == "echo")
        ratio = r["p99_us"] / floor["p99_us"] if r["p99_us"] and floor["p99_us"] else float("nan")
        comp = (f"{r['filter_compute_median_us']:.1f}/{r['filter_compute_p99_us']:.1f}"
                if r["filter_compute_median_us"] is not None else "-")
        print(f"{r['rate_hz']:>6.0f} {r['target']:>7} {r['median_us']:>10.0f} {r['p99_us']:>9.0f} "
              f"{r['max_us']:>9.0f} {r['missed']:>4}/{r['sent']:<6} {ratio:>5.2f} {comp:>18} "
              f"{r['loadavg_1min_before']:>4.1f}/{r['loadavg_1min_after']:.1f}  "
              + " ".join(f"{x:.2f}" for x in r["round_p99_over_floor"] if x is not None))
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": platform.platform(),
                                               "cpus": os.cpu_count(), "args": vars(args),
                                               "rows": rows, "rounds": round_rows}, indent=1))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 500.0, 1000.0])
    ap.add_argument("--rounds", type=int, default=1,
                    help="split each target's --duration into this many rounds, alternating "
                         "floor and shield (on a noisy machine both then sample the same minutes)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--rt-priority", type=int, default=0, metavar="P",
                    help="run the probe and the node (shield and echo floor alike) SCHED_FIFO at P (1-99)")
    ap.add_argument("--cpus", type=int, nargs=2, default=None, metavar=("PROBE", "NODE"),
                    help="pin the probe and the node (all their threads) to these CPUs")
    ap.add_argument("--in-process", type=int, default=0, metavar="N",
                    help="only time N calls of the node's command callback in this process")
    ap.add_argument("--gap-ms", type=float, default=0.0,
                    help="with --in-process: idle this long before each call (cold-cache cost)")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.echo:
        return echo_main()
    if args.inner and args.in_process:
        print(json.dumps(in_process(args.in_process, args.gap_ms * 1e-3)))
        return 0
    if args.inner:
        return inner(args)
    return outer(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
