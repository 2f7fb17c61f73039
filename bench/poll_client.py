#!/usr/bin/env python3
"""A user of the public addresses during an upgrade: GETs each ADDR every
POLL_MS (default 100) milliseconds until SIGTERM, then prints a markdown
table of what it got: answered by the product, by the 503 maintenance page,
refused, reset/other, and the longest time without an answer.

Usage: poll_client.py NAME=HOST:PORT[/PATH] ...
"""
import os, signal, socket, sys, threading, time

EVERY = int(os.environ.get("POLL_MS", "100")) / 1000
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())


def ask(host, port, path):
    try:
        c = socket.create_connection((host, port), timeout=5)
    except ConnectionRefusedError:
        return "refused"
    except OSError as e:
        return f"other: {e}"
    try:
        c.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        raw = b""
        while chunk := c.recv(65536):
            raw += chunk
    except (ConnectionResetError, BrokenPipeError) as e:
        return f"reset: {e}"
    except OSError as e:
        return f"other: {e}"
    finally:
        c.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    if not _:
        return "reset: closed early"
    status = head.split(b" ", 2)[1:2]
    if status == [b"503"] and b"Retry-After:" in head and b"being upgraded" in body:
        return "page"
    return "product"


def poll(addr, out):
    hostport, _, path = addr.partition("/")
    host, _, port = hostport.rpartition(":")
    while not stop.is_set():
        began = time.monotonic()
        at, seen = time.time(), ask(host, int(port), "/" + path)
        out.append((at, seen))
        if seen not in ("product", "page"):
            print(f"[poll] {addr} at {at:.3f}: {seen}", file=sys.stderr)
        stop.wait(max(0.0, EVERY - (time.monotonic() - began)))


def longest_gap(samples):
    if not samples:
        return 0
    points = [samples[0][0]] + [t for t, s in samples if s in ("product", "page")] + [samples[-1][0]]
    return max(b - a for a, b in zip(points, points[1:])) if len(points) > 1 else 0


def main():
    targets = [a.split("=", 1) for a in sys.argv[1:]]
    seen = {name: [] for name, _ in targets}
    threads = [threading.Thread(target=poll, args=(addr, seen[name])) for name, addr in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"| address (GET every {int(EVERY * 1000)} ms) | requests | product | 503 page | refused | reset/other | longest gap (ms) |")
    print("|---|---|---|---|---|---|---|")
    for name, _ in targets:
        s = seen[name]
        n = lambda k: sum(1 for _, x in s if x.startswith(k))
        print(f"| {name} | {len(s)} | {n('product')} | {n('page')} | {n('refused')} | {n('reset') + n('other')} | {longest_gap(s) * 1000:.0f} |")


main()
