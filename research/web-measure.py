import json, statistics, sys, time, urllib.request
base = sys.argv[1]
ask = {"actor": "UA", "action": "use", "model": "ATACMS", "place": "RU-KRS", "as_of": "2024-09-11"}
def get(path):
    with urllib.request.urlopen(base + path) as r:
        return r.read()
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return r.read()
cases = {
    "page /?Q1 (HTML answer)": lambda: get("/?actor=UA&action=use&model=ATACMS&place=RU-KRS&as_of=2024-09-11"),
    "api POST /v1/decisions Q1": lambda: post("/v1/decisions", ask),
    "page /timeline?model=ATACMS": lambda: get("/timeline?model=ATACMS"),
    "api GET /v1/timeline?model=ATACMS": lambda: get("/v1/timeline?model=ATACMS"),
    "page / (empty form)": lambda: get("/"),
}
for f in cases.values():
    for _ in range(5): f()
res = {k: [] for k in cases}
for rnd in range(3):
    for k, f in cases.items():
        t = time.perf_counter()
        for _ in range(40): f()
        res[k].append((time.perf_counter() - t) / 40 * 1000)
for k, v in res.items():
    print(f"{k:38s} " + " ".join(f"{x:6.2f}" for x in v) + f"   median {statistics.median(v):6.2f} ms")
print("bytes: page Q1", len(cases["page /?Q1 (HTML answer)"]()), "api Q1", len(cases["api POST /v1/decisions Q1"]()), "timeline page", len(cases["page /timeline?model=ATACMS"]()))
