// The example tenant authorizer in JavaScript: the rules are in
// ../README.md, the cases it must pass in ../cases.json.
//
// Plain JavaScript with no imports, so it builds with either engine:
// StarlingMonkey (componentize-js) or QuickJS.
// SHA-256 is written out because neither offers a synchronous HMAC; the
// key's blocks are compressed once, in configure.

const SKEW_S = 300;
let secret = null;

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

// Run the compression function over 64-byte blocks of `view` into `h`.
function compress(h, view, blocks) {
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let block = 0; block < blocks * 64; block += 64) {
    for (let i = 0; i < 16; i++) w[i] = view.getUint32(block + i * 4);
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
}

// SHA-256 of `prefixBlocks` 64-byte blocks already compressed into
// `state`, followed by `bytes`.
function sha256From(state, prefixBlocks, bytes) {
  const length = bytes.length;
  const padded = new Uint8Array(((length + 9 + 63) >> 6) << 6);
  padded.set(bytes);
  padded[length] = 0x80;
  const bits = (prefixBlocks * 64 + length) * 8;
  const view = new DataView(padded.buffer);
  view.setUint32(padded.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(padded.length - 4, bits >>> 0);
  const h = new Uint32Array(state);
  compress(h, view, padded.length / 64);
  const out = new Uint8Array(32);
  const outView = new DataView(out.buffer);
  h.forEach((word, i) => outView.setUint32(i * 4, word));
  return out;
}

// HMAC-SHA256 keyed once: the inner and outer key blocks are compressed in
// `configure`, so a call compresses only the message and the inner hash.
function hmacKey(key) {
  const block = new Uint8Array(64);
  block.set(key.length > 64 ? sha256From(INITIAL, 0, key) : key);
  const pad = (byte) => {
    const padded = new Uint8Array(64);
    for (let i = 0; i < 64; i++) padded[i] = block[i] ^ byte;
    const h = new Uint32Array(INITIAL);
    compress(h, new DataView(padded.buffer), 1);
    return h;
  };
  return { inner: pad(0x36), outer: pad(0x5c) };
}

function hmacSha256Hex(key, message) {
  const mac = sha256From(key.outer, 1, sha256From(key.inner, 1, message));
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join("");
}

// UTF-8, without TextEncoder (QuickJS has none).
function utf8(text) {
  return new Uint8Array(unescape(encodeURIComponent(text)).split("").map((c) => c.charCodeAt(0)));
}

// Equal, in time that depends on the lengths only.
function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function check(method, path, tenant, timestamp, signature, now) {
  if (!tenant || !timestamp || !signature) return "missing-credentials";
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(tenant)) return "bad-tenant";
  if (!/^[0-9]{1,10}$/.test(timestamp) || Math.abs(Number(timestamp) - now) > SKEW_S) {
    return "stale-timestamp";
  }
  const expected = hmacSha256Hex(secret, utf8(`${method}\n${path}\n${timestamp}\n${tenant}`));
  return constantTimeEqual(expected, signature) ? null : "bad-signature";
}

export const policy = {
  phases() {
    return ["request-headers"];
  },

  configure(config) {
    const settings = JSON.parse(config);
    if (typeof settings.secret !== "string" || utf8(settings.secret).length < 32) {
      throw "secret: at least 32 bytes";
    }
    secret = hmacKey(utf8(settings.secret));
  },

  onRequest(phase, request, context) {
    const tenant = request.header("x-tenant") ?? "";
    const timestamp = request.header("x-timestamp") ?? "";
    const signature = request.header("x-signature") ?? "";
    const now = Math.floor(Date.now() / 1000);
    const refusal = check(request.method(), request.path(), tenant, timestamp, signature, now);
    // The signature covers the method and path: the decision is cached
    // per resource.
    if (refusal === null) {
      return {
        tag: "continue",
        val: [
          { tag: "set-principal", val: tenant },
          { tag: "set-entry", val: ["tenant", tenant] },
          { tag: "set-entry", val: ["portcullis.resource-specific", "true"] },
        ],
      };
    }
    return {
      tag: "deny",
      val: {
        status: 401,
        headers: [
          ["content-type", "application/json"],
          ["www-authenticate", "Custom"],
          ["portcullis-resource-specific", "true"],
        ],
        body: utf8('{"error":"unauthorized"}'),
        reason: refusal,
      },
    };
  },

  onResponse(phase, request, response, context) {
    return { tag: "continue", val: [] };
  },
};
