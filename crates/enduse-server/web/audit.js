// The audit page: checks an entry's inclusion proof in this browser. It
// recomputes the entry's leaf hash from its body (RFC 6962: SHA-256 of
// 0x00 || the leaf data), climbs the audit path to the root, reads the
// signed checkpoint (a C2SP signed note) and checks its Ed25519 signature
// with the key given, all with WebCrypto.
"use strict";
(function () {
  const data = document.getElementById("proof-data");
  const button = document.getElementById("verify");
  if (!data || !button) return;
  const { entry, proof } = JSON.parse(data.textContent);
  const steps = document.getElementById("verify-steps");
  const result = document.getElementById("verify-result");
  const enc = new TextEncoder();
  const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");
  const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const cat = (...parts) => { const n = parts.reduce((a, p) => a + p.length, 0); const o = new Uint8Array(n); let i = 0; for (const p of parts) { o.set(p, i); i += p.length; } return o; };
  const sha = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  // The log's canonical JSON: no whitespace, keys sorted by their bytes.
  function canonical(v) {
    if (v === null || typeof v !== "object") return JSON.stringify(v);
    if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
    const keys = Object.keys(v).sort((a, b) => { const x = enc.encode(a), y = enc.encode(b); for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i]; return x.length - y.length; });
    return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonical(v[k])).join(",") + "}";
  }
  function step(ok, text) {
    const li = document.createElement("li");
    li.className = ok ? "ok" : "bad";
    li.textContent = (ok ? "✓ " : "✕ ") + text;
    steps.appendChild(li);
    return ok;
  }
  async function verify() {
    steps.replaceChildren();
    result.textContent = "Checking…";
    result.className = "";
    let ok = true;
    if (!window.crypto || !crypto.subtle) {
      step(false, "this browser offers no WebCrypto here (it needs a secure context: https, or http on localhost)");
      result.textContent = "Not verified."; result.className = "bad"; return;
    }
    // 1. The leaf hash, from the entry's body.
    const leafData = enc.encode("enduse-audit entry v1\n" + entry.index + "\n" + entry.kind + "\n" + canonical(entry.body));
    const leaf = await sha(cat(new Uint8Array([0]), leafData));
    ok = step(hex(leaf) === entry.hash && entry.hash === proof.leaf_hash, "the entry's body hashes to its leaf hash " + hex(leaf).slice(0, 16) + "…") && ok;
    // 2. The audit path, up to the root of the tree of that size (RFC 9162, 2.1.3.2).
    let fn = proof.index, sn = proof.tree_size - 1, r = leaf, pathOk = true;
    for (const h of proof.hashes) {
      const p = unhex(h);
      if (sn === 0) { pathOk = false; break; }
      if (fn % 2 === 1 || fn === sn) {
        r = await sha(cat(new Uint8Array([1]), p, r));
        if (fn % 2 === 0) { while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); } }
      } else {
        r = await sha(cat(new Uint8Array([1]), r, p));
      }
      fn = Math.floor(fn / 2); sn = Math.floor(sn / 2);
    }
    pathOk = pathOk && sn === 0 && hex(r) === proof.root;
    ok = step(pathOk, "its audit path of " + proof.hashes.length + " hashes leads to the root " + proof.root.slice(0, 16) + "… of the tree of " + proof.tree_size + " entries") && ok;
    // 3. The signed checkpoint commits to that root and size.
    const note = proof.checkpoint || "";
    const cut = note.indexOf("\n\n");
    const text = cut >= 0 ? note.slice(0, cut + 1) : "";
    const lines = text.split("\n");
    const cpOk = lines.length >= 4 && lines[1] === String(proof.tree_size) && hex(b64(lines[2])) === proof.root;
    ok = step(cpOk, "the checkpoint names " + (lines[1] || "?") + " entries and this root") && ok;
    // 4. Its signature, by the key given.
    const key = document.getElementById("trusted-key").value.trim();
    // NAME+ID+KEY: the base64 key may itself hold "+", so only the first
    // two separate.
    const i = key.indexOf("+"), j = i < 0 ? -1 : key.indexOf("+", i + 1);
    const parts = j < 0 ? [key] : [key.slice(0, i), key.slice(i + 1, j), key.slice(j + 1)];
    let sigOk = false, why = "";
    try {
      if (parts.length !== 3 || !/^[0-9a-fA-F]{8}$/.test(parts[1])) throw new Error("the key is not NAME+ID+KEY");
      const [name, idHex, keyB64] = parts;
      const kb = b64(keyB64);
      if (kb.length !== 33 || kb[0] !== 1) throw new Error("the key is not an Ed25519 key");
      const pub = kb.slice(1);
      const idHash = await sha(cat(enc.encode(name + "\n"), new Uint8Array([1]), pub));
      if (hex(idHash.slice(0, 4)) !== idHex.toLowerCase()) throw new Error("the key's id does not match the key");
      if (lines[0] !== name) throw new Error("the checkpoint is of the log " + lines[0] + ", the key of " + name);
      const sigLines = note.slice(cut + 2).split("\n").filter((l) => l.startsWith("\u2014 " + name + " "));
      if (!sigLines.length) throw new Error("the key has not signed the checkpoint");
      const k = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
      for (const l of sigLines) {
        const sig = b64(l.split(" ")[2]);
        if (hex(sig.slice(0, 4)) !== idHex.toLowerCase()) continue;
        if (await crypto.subtle.verify({ name: "Ed25519" }, k, sig.slice(4), enc.encode(text))) sigOk = true;
      }
      if (!sigOk) why = ": the signature does not verify";
    } catch (e) {
      why = ": " + (e && e.name === "NotSupportedError" ? "this browser's WebCrypto has no Ed25519" : e.message);
    }
    ok = step(sigOk, "the checkpoint is signed by " + (parts[0] || "the key") + why) && ok;
    result.textContent = ok ? "Verified: entry " + entry.index + " is in the log the signed checkpoint commits to." : "Not verified.";
    result.className = ok ? "ok" : "bad";
    result.dataset.verified = ok ? "true" : "false";
  }
  button.addEventListener("click", verify);
})();
