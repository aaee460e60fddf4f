#!/usr/bin/env python3
"""Peer benchmark: the Erlang-A (M/M/c+M) call centre written in SimPy.

Same system as callsim's reference case
(`callsim erlang a --channels 100 --arrival-rate 0.475 --mean-talk 200
--mean-patience 90`, exact P(abandon) = 0.02618):

  * c = 100 channels, a simpy.Resource of capacity 100, FIFO queue;
  * Poisson arrivals at 0.475 calls/s;
  * exponential talk (service) time, mean 200 s;
  * exponential patience, mean 90 s: a caller who has not been given a
    channel within their patience abandons, and their request is withdrawn.

Written the way an ordinary SimPy user would: one generator process for the
arrival stream and one process per caller, waiting on `req | env.timeout(p)`.

Run length: arrivals stop after N offered calls and the simulation then runs
until the event queue is empty, i.e. until the last caller has finished
(been served or abandoned). So every one of the N offered calls has an
outcome, and p_abandon = abandoned / N counts all of them. The system starts
empty and idle; at the sizes used here (N >= 200,000, about 4.2e5 simulated
seconds) the warm-up transient of a few hundred seconds is negligible.

Output: one line of JSON on stdout. wall_s is time.perf_counter() around
env.run() only (not interpreter start-up, imports or model construction).

Usage: simpy_erlang_a.py [--calls N] [--seed S]
"""

import argparse
import json
import platform
import random
import time
from importlib.metadata import version

import simpy

CHANNELS = 100
ARRIVAL_RATE = 0.475  # calls per second
MEAN_TALK = 200.0  # seconds
MEAN_PATIENCE = 90.0  # seconds


class Stats:
    __slots__ = ("offered", "abandoned")

    def __init__(self):
        self.offered = 0
        self.abandoned = 0


def caller(env, channels, rng, stats):
    """One caller: queue for a channel, abandon when patience runs out."""
    patience = rng.expovariate(1.0 / MEAN_PATIENCE)
    with channels.request() as req:
        result = yield req | env.timeout(patience)
        if req in result:
            # Got a channel: talk, then leaving the `with` block releases it.
            yield env.timeout(rng.expovariate(1.0 / MEAN_TALK))
        else:
            # Patience ran out first: abandon. Leaving the `with` block calls
            # req.cancel(), which takes the still-pending request out of the
            # resource's queue so it can never be granted later.
            stats.abandoned += 1


def source(env, channels, rng, stats, n_calls):
    """Poisson arrival stream that stops after n_calls offered calls."""
    for _ in range(n_calls):
        yield env.timeout(rng.expovariate(ARRIVAL_RATE))
        stats.offered += 1
        env.process(caller(env, channels, rng, stats))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000,
                    help="number of offered calls (default 1000000)")
    ap.add_argument("--seed", type=int, default=42,
                    help="seed for random.Random (default 42)")
    args = ap.parse_args()
    if args.calls <= 0:
        ap.error("--calls must be positive")

    rng = random.Random(args.seed)
    env = simpy.Environment()
    channels = simpy.Resource(env, capacity=CHANNELS)
    stats = Stats()
    env.process(source(env, channels, rng, stats, args.calls))

    t0 = time.perf_counter()
    env.run()  # until no events remain: the last caller has finished
    wall = time.perf_counter() - t0

    assert stats.offered == args.calls
    print(json.dumps({
        "tool": "simpy",
        "simpy_version": version("simpy"),
        "python": platform.python_version(),
        "calls": stats.offered,
        "abandoned": stats.abandoned,
        "p_abandon": stats.abandoned / stats.offered,
        "wall_s": wall,
        "calls_per_s": stats.offered / wall,
    }))


if __name__ == "__main__":
    main()
