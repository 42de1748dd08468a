#!/usr/bin/env python3
"""Times every audit search shape and timeline against a running Gatehouse (BENCHMARKS.md,
"Audit at scale"). Usage: audit-shapes.py URL COOKIE [RUNS]. Prints a Markdown table:
one row per shape, p50 and p95 over RUNS runs (default 200) after 5 warm-up runs, and how
many events the page held. Requests go one at a time over one keep-alive connection."""
import http.client
import json
import statistics
import sys
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

url, cookie = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 200
u = urllib.parse.urlparse(url)
conn = http.client.HTTPConnection(u.hostname, u.port)


def get(path):
    conn.request("GET", path, headers={"Cookie": cookie})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"{path}: {r.status} {body[:300]!r}")
    return json.loads(body)


def iso(t):
    return urllib.parse.quote(t.strftime("%Y-%m-%dT%H:%M:%SZ"))


now = datetime.now(timezone.utc)
d45 = now - timedelta(days=45)
d46 = now - timedelta(days=46)
d1 = now - timedelta(days=1)


def first_request(around):
    q = f"action=access_request.create&from={iso(around)}&to={iso(around + timedelta(hours=6))}&limit=1"
    events = get(f"/api/v1/audit/events?{q}")["events"]
    if not events:
        raise SystemExit(f"no request near {around}")
    return events[0]["target_id"]


def cursor_at(query, page):
    cursor = None
    for _ in range(page - 1):
        p = get(f"/api/v1/audit/events?limit=50&{query}" + (f"&cursor={cursor}" if cursor else ""))
        cursor = p["next_cursor"]
        if not cursor:
            raise SystemExit(f"{query}: fewer than {page} pages")
    return cursor


old_request, new_request = first_request(d46), first_request(d1)
week_45 = f"from={iso(d45 - timedelta(days=7))}&to={iso(d45)}"
shapes = [
    ("first page", "/api/v1/audit/events?limit=50"),
    ("one ordinary person", "/api/v1/audit/events?limit=50&actor=person01500"),
    ("a target", "/api/v1/audit/events?limit=50&target=100000000000003/ps-3"),
    ("cursor page 50", "/api/v1/audit/events?limit=50&cursor=" + cursor_at("", 50)),
    ("the busiest person", "/api/v1/audit/events?limit=50&actor=person00000"),
    ("actor = system", "/api/v1/audit/events?limit=50&actor=system"),
    ("action prefix access_request.*", "/api/v1/audit/events?limit=50&action=access_request.*"),
    ("action prefix sts.*", "/api/v1/audit/events?limit=50&action=sts.*"),
    ("action prefix auth.*, cursor page 50",
     "/api/v1/audit/events?limit=50&action=auth.*&cursor=" + cursor_at("action=auth.*", 50)),
    ("outcome = denied", "/api/v1/audit/events?limit=50&outcome=denied"),
    ("one day, 45 days ago",
     f"/api/v1/audit/events?limit=50&from={iso(d45 - timedelta(days=1))}&to={iso(d45)}"),
    ("seven days", f"/api/v1/audit/events?limit=50&from={iso(now - timedelta(days=7))}"),
    ("auth.login + failure + 7 days, 45 days ago",
     f"/api/v1/audit/events?limit=50&action=auth.login&outcome=failure&{week_45}"),
    ("a person + sts.* + 7 days, 45 days ago",
     f"/api/v1/audit/events?limit=50&actor=person01500&action=sts.*&{week_45}"),
    ("system + cloud.* + failure",
     "/api/v1/audit/events?limit=50&actor=system&action=cloud.*&outcome=failure"),
    ("a target + 7 days, 45 days ago",
     f"/api/v1/audit/events?limit=50&target=100000000000003/ps-3&{week_45}"),
    ("timeline of a request made 1 day ago", f"/api/v1/audit/timeline/{new_request}"),
    ("timeline of a request made 46 days ago", f"/api/v1/audit/timeline/{old_request}"),
]

print("| shape | p50 ms | p95 ms | events |")
print("| --- | --- | --- | --- |")
for name, path in shapes:
    for _ in range(5):
        got = get(path)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        got = get(path)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    n = len(got["events"]) if isinstance(got, dict) else len(got)
    p95 = times[int(len(times) * 0.95) - 1]
    print(f"| {name} | {statistics.median(times):.1f} | {p95:.1f} | {n} |", flush=True)
