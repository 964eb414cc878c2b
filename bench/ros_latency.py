"""End-to-end latency of the ROS 2 shield node: Twist on cmd_in -> Twist on cmd_out, over DDS on
loopback, at 100 / 500 / 1000 Hz command rates, beside a bare rclpy echo node (the floor).

    python3 bench/ros_latency.py [--duration 60] [--rates 100 500 1000] [--json out.json]
    python3 bench/ros_latency.py --in-process 5000     # the node's own per-command cost

Run with any Python: it installs/uses .venv-ros (scripts/ros_env.sh) and re-runs itself inside a
loopback-only network namespace (tests/ros/netns.sh). Each (target, rate) run starts a fresh node
process and a fresh receiver process; this process (the sender) publishes commands at the rate
(plus odometry at 50 Hz, robot far from every hazard so the shield passes commands unchanged),
each carrying a sequence number in linear.x; the receiver records the receipt time of each
sequence number on cmd_out. Latency = receipt - send on the machine's monotonic clock (shared by
all processes). "missed" = commands with no matching output. The shield's own filter compute
time comes from its ~/state decision records. The 1-minute load average is recorded before and
after each run: on a shared machine it says how much of a tail is the machine's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEQ_SCALE = 1e-6      # command i carries linear.x = i * 1e-6 (inside the action bounds, passes)


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


def in_process(n: int) -> dict:
    """Per-command cost of the node's own code, no DDS wait: the cmd_in callback (adapter,
    supervisor, core decide, building and publishing cmd_out and ~/state) called directly."""
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
            odom.header.stamp = node.get_clock().now().to_msg()
            node._on_state(odom)
        t0 = time.perf_counter()
        node._on_command(cmd)
        if i >= 500:
            t_cb[i - 500] = time.perf_counter() - t0
    outcomes = dict(node.sup.outcomes)
    ct = np.array(node.sup.compute_times)
    node.destroy_node()
    rclpy.try_shutdown()
    return {"calls": n, "callback_median_us": float(np.median(t_cb) * 1e6),
            "callback_p99_us": float(np.percentile(t_cb, 99) * 1e6),
            "decide_median_us": float(np.median(ct) * 1e6),
            "decide_p99_us": float(np.percentile(ct, 99) * 1e6), "outcomes": outcomes}


def receiver_main(out: str, n_total: int) -> int:
    """The receiving side, in its own process so it never competes with the sender for a GIL:
    records the monotonic receipt time of each sequence number on cmd_out, and the shield's
    compute times from ~/state, until SIGINT; then writes them to ``out`` (.npz)."""
    import numpy as np
    import rclpy
    import rclpy.executors
    from diagnostic_msgs.msg import DiagnosticStatus
    from geometry_msgs.msg import Twist
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    rclpy.init()
    node = rclpy.create_node("bench_receiver")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    recv = np.full(n_total, np.nan)
    compute_us: list[float] = []

    def on_out(msg: Twist) -> None:
        i = int(round(msg.linear.x / SEQ_SCALE))
        if 0 <= i < n_total and msg.linear.x != 0.0:
            recv[i] = time.monotonic()

    def on_decision(st: DiagnosticStatus) -> None:
        compute_us.append(float(st.values[3].value))       # compute_time_us

    node.create_subscription(Twist, "cmd_out", on_out, qos)
    node.create_subscription(DiagnosticStatus, "safe_shield/state", on_decision, qos)
    # The classic executor: the EventsExecutor died here converting DiagnosticStatus messages
    # ("Unable to convert call argument '0' to Python object", rclpy 9.1.2).
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    tmp = out + ".tmp.npz"
    np.savez(tmp, recv=recv, compute_us=np.array(compute_us))
    os.replace(tmp, out)
    rclpy.try_shutdown()
    return 0


def run_one(target: str, rate: float, duration: float, warmup: float, tmpdir: Path,
            rt_priority: int = 0) -> dict:
    import numpy as np
    import rclpy
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
    # --rt-priority: node (shield or echo floor alike), receiver and sender run SCHED_FIFO, as a
    # control stack would be deployed on a robot computer; 0 keeps the default scheduler.
    rt = ["chrt", "-f", str(rt_priority)] if rt_priority else []
    proc = subprocess.Popen(rt + cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    out_file = tmpdir / f"recv_{target}_{int(rate)}.npz"
    receiver = subprocess.Popen(rt + [sys.executable, __file__, "--receiver", str(out_file),
                                      str(n_total)], cwd=REPO, env=env)
    node = rclpy.create_node(f"bench_sender_{target}_{int(rate)}")
    qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pub = node.create_publisher(Twist, "cmd_in", qos)
    pub_odom = node.create_publisher(Odometry, "state", qos_profile_sensor_data)

    def odom() -> Odometry:
        m = Odometry()
        m.header.stamp = node.get_clock().now().to_msg()
        m.pose.pose.position.x = -1.8
        m.pose.pose.orientation.w = 1.0
        return m

    end = time.monotonic() + 30      # discovery: target <- sender, target -> receiver
    while time.monotonic() < end and not (
            pub.get_subscription_count() > 0 and node.count_subscribers("cmd_out") > 0
            and (target == "echo" or pub_odom.get_subscription_count() > 0)):
        time.sleep(0.05)
    time.sleep(0.5)                  # the receiver's side of the match settles too
    for _ in range(25):              # the shield's state is fresh before the first command
        pub_odom.publish(odom())
        time.sleep(0.02)

    load_before = os.getloadavg()[0]
    sent = np.full(n_total, np.nan)
    period = 1.0 / rate
    odom_every = max(1, int(rate / 50))
    t_next = time.monotonic()
    for i in range(n_total):
        dt = t_next - time.monotonic()
        if dt > 0:
            time.sleep(dt)           # no spin-wait: the 2 cores are for the nodes under test
        if i % odom_every == 0:
            pub_odom.publish(odom())
        msg = Twist()
        msg.linear.x = i * SEQ_SCALE if i else SEQ_SCALE * 0.5   # 0 would read as a stop
        sent[i] = time.monotonic()
        pub.publish(msg)
        t_next += period
    time.sleep(0.5)
    load_after = os.getloadavg()[0]
    receiver.send_signal(2)
    receiver.wait(20)
    node.destroy_node()
    proc.send_signal(2)
    proc.wait(10)

    data = np.load(out_file)
    recv, compute = data["recv"], data["compute_us"]
    k = int(warmup * rate)
    lat = (recv[k:] - sent[k:]) * 1e6
    got = lat[np.isfinite(lat)]
    comp = compute[k:] if compute.size > k else compute
    return {
        "target": target, "rate_hz": rate, "sent": int(n_total - k), "missed": int(np.isnan(lat).sum()),
        "median_us": float(np.median(got)) if got.size else None,
        "p99_us": float(np.percentile(got, 99)) if got.size else None,
        "max_us": float(got.max()) if got.size else None,
        "achieved_send_rate_hz": float((n_total - k - 1) / (sent[-1] - sent[k])),
        "filter_compute_median_us": float(np.median(comp)) if comp.size else None,
        "filter_compute_p99_us": float(np.percentile(comp, 99)) if comp.size else None,
        "loadavg_1min_before": load_before, "loadavg_1min_after": load_after,
    }


def inner(args) -> int:
    import tempfile

    import rclpy
    rclpy.init()
    if args.rt_priority:                 # the sender too (this process); children get it via chrt
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(args.rt_priority))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.rates:
            for target in ("echo", "shield"):
                r = run_one(target, rate, args.duration, args.warmup, Path(tmp), args.rt_priority)
                rows.append(r)
                print(json.dumps(r), flush=True)
    rclpy.try_shutdown()
    print(f"\n{'rate':>6} {'target':>7} {'median µs':>10} {'p99 µs':>9} {'max µs':>9} "
          f"{'missed':>7} {'p99/floor':>9} {'filter p50/p99 µs':>18} {'load':>9}")
    for r in rows:
        floor = next(f for f in rows if f["rate_hz"] == r["rate_hz"] and f["target"] == "echo")
        ratio = r["p99_us"] / floor["p99_us"] if r["p99_us"] and floor["p99_us"] else float("nan")
        comp = (f"{r['filter_compute_median_us']:.1f}/{r['filter_compute_p99_us']:.1f}"
                if r["filter_compute_median_us"] is not None else "-")
        print(f"{r['rate_hz']:>6.0f} {r['target']:>7} {r['median_us']:>10.0f} {r['p99_us']:>9.0f} "
              f"{r['max_us']:>9.0f} {r['missed']:>4}/{r['sent']:<6} {ratio:>5.2f} {comp:>18} "
              f"{r['loadavg_1min_before']:>4.1f}/{r['loadavg_1min_after']:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": platform.platform(),
                                               "cpus": os.cpu_count(), "args": vars(args),
                                               "rows": rows}, indent=1))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--rates", type=float, nargs="+", default=[100.0, 500.0, 1000.0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--rt-priority", type=int, default=0, metavar="P",
                    help="run sender, node (shield and echo floor alike) and receiver SCHED_FIFO at P (1-99)")
    ap.add_argument("--in-process", type=int, default=0, metavar="N",
                    help="only time N calls of the node's command callback in this process")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--receiver", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.echo:
        return echo_main()
    if args.receiver:
        return receiver_main(args.receiver[0], int(args.receiver[1]))
    if args.inner and args.in_process:
        print(json.dumps(in_process(args.in_process)))
        return 0
    if args.inner:
        return inner(args)
    return outer(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
