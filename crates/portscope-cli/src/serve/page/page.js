// The live page: the listing from /api/v1/snapshot, kept current by the
// change events of /api/v1/events. Every string from the server reaches
// the document through textContent (never innerHTML), and untrusted text
// is shown escaped as the terminal shows it (control characters and
// invalid UTF-8 as \xNN), so a hostile process name stays inert text.
'use strict';

const NEW_MS = 3000;
const GONE_MS = 5000;
const rows = new Map(); // key -> { s, appeared, gone }
let sortCol = 'local';
let sortDir = 1;
let group = '';
let filter = '';
let source = null;
let token = null;
let dirty = true;

// A bearer token may be given after # (never sent in a URL): #token=...
(function () {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) token = decodeURIComponent(m[1]);
})();

function headers() {
  return token ? { Authorization: 'Bearer ' + token } : {};
}

// The escaped form of a string, as portscope shows untrusted text.
function esc(str) {
  let out = '';
  for (const ch of String(str)) {
    const c = ch.codePointAt(0);
    if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (c < 0x20 || c === 0x7f || (c >= 0x80 && c <= 0x9f)) {
      for (const b of new TextEncoder().encode(ch)) out += '\\x' + b.toString(16).padStart(2, '0');
    } else if (c === 0x61c || c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
      out += '\\u{' + c.toString(16) + '}';
    } else out += ch;
  }
  return out;
}

// Untrusted text from the JSON: a string, or {lossy, hex} for bytes that
// are not UTF-8 (shown byte by byte from the hex).
function txt(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return esc(v);
  if (typeof v === 'object' && typeof v.hex === 'string') {
    let out = '';
    const hex = v.hex.match(/../g) || [];
    const raw = hex.map((h) => parseInt(h, 16));
    let i = 0;
    while (i < raw.length) {
      const b = raw[i];
      let n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 0;
      let ok = n > 0 && i + n <= raw.length;
      for (let k = 1; ok && k < n; k++) ok = (raw[i + k] & 0xc0) === 0x80;
      if (ok) {
        try {
          out += esc(new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(raw.slice(i, i + n))));
          i += n;
          continue;
        } catch (e) { /* shown as bytes below */ }
      }
      out += '\\x' + b.toString(16).padStart(2, '0');
      i += 1;
    }
    return out;
  }
  return esc(String(v));
}

function ep(e) {
  if (!e) return '';
  if ('addr' in e) {
    const a = String(e.addr);
    return (a.includes(':') ? '[' + a + ']' : a) + ':' + (e.port === 0 ? '*' : e.port);
  }
  if ('path' in e) return e.path === null ? '*' : txt(e.path);
  return '';
}

function key(s) {
  if (s.cookie) return 'c' + s.cookie;
  return [s.proto, s.family, ep(s.local), ep(s.remote), s.inode].join('|');
}

function owner(s) {
  const o = (s.owners || [])[0];
  return o || null;
}

function cells(s) {
  const o = owner(s);
  return {
    proto: s.proto,
    local: ep(s.local),
    remote: ep(s.remote),
    state: s.state,
    process: o ? txt(o.name) : '',
    pid: o ? String(o.pid) : '',
    container: o && o.container ? txt(o.container) : '',
    service: s.service && s.service.name ? s.service.name : '',
  };
}

const COLS = ['proto', 'local', 'remote', 'state', 'process', 'pid', 'container', 'service'];

function compare(a, b) {
  if (group) {
    // Grouped rows follow their group's name, then the chosen column.
    const g = a.c[group] < b.c[group] ? -1 : a.c[group] > b.c[group] ? 1 : 0;
    if (g !== 0) return g;
  }
  const x = a.c[sortCol];
  const y = b.c[sortCol];
  const nx = Number(x);
  const ny = Number(y);
  let r;
  if (sortCol === 'pid' && x !== '' && y !== '') r = nx - ny;
  else r = x < y ? -1 : x > y ? 1 : 0;
  if (r === 0) r = a.k < b.k ? -1 : a.k > b.k ? 1 : 0;
  return r * sortDir;
}

function render() {
  const now = Date.now();
  for (const [k, r] of rows) if (r.gone && now - r.gone > GONE_MS) rows.delete(k);
  const list = [];
  for (const [k, r] of rows) list.push({ k, r, c: cells(r.s) });
  list.sort(compare);
  const body = document.getElementById('rows');
  const frag = document.createDocumentFragment();
  let lastGroup = null;
  for (const item of list) {
    if (group) {
      const g = item.c[group] || '(none)';
      if (g !== lastGroup) {
        lastGroup = g;
        const tr = document.createElement('tr');
        tr.className = 'group';
        const td = document.createElement('td');
        td.colSpan = COLS.length;
        td.textContent = group + ': ' + g;
        tr.appendChild(td);
        frag.appendChild(tr);
      }
    }
    const tr = document.createElement('tr');
    tr.dataset.key = item.k;
    if (item.r.gone) tr.className = 'gone';
    else if (item.r.appeared && now - item.r.appeared < NEW_MS) tr.className = 'new';
    for (const col of COLS) {
      const td = document.createElement('td');
      td.textContent = item.c[col];
      tr.appendChild(td);
    }
    frag.appendChild(tr);
  }
  body.replaceChildren(frag);
  document.getElementById('count').textContent = '(' + list.length + ')';
  for (const th of document.querySelectorAll('th[data-col]')) {
    th.classList.toggle('sorted', th.dataset.col === sortCol);
    th.classList.toggle('desc', th.dataset.col === sortCol && sortDir < 0);
  }
  drawMap();
  dirty = false;
}

function status(text) {
  document.getElementById('status').textContent = text;
}

function showError(text) {
  const el = document.getElementById('filter-error');
  el.textContent = text || '';
  el.hidden = !text;
}

async function load() {
  const q = filter ? '?filter=' + encodeURIComponent(filter) : '';
  const resp = await fetch('api/v1/snapshot' + q, { headers: headers(), cache: 'no-store' });
  const body = await resp.json();
  if (!resp.ok) {
    showError(body.caret ? body.error + '\n' + body.caret : body.error);
    return false;
  }
  showError('');
  rows.clear();
  for (const s of body) rows.set(key(s), { s, appeared: 0, gone: 0 });
  dirty = true;
  return true;
}

function apply(kind, s) {
  const k = key(s);
  const now = Date.now();
  if (kind === 'new') rows.set(k, { s, appeared: now, gone: 0 });
  else if (kind === 'gone') {
    const r = rows.get(k);
    rows.set(k, { s, appeared: r ? r.appeared : 0, gone: now });
  } else if (kind === 'changed') {
    const r = rows.get(k);
    rows.set(k, { s, appeared: r ? r.appeared : now, gone: 0 });
  }
  dirty = true;
}

// The events stream, read with fetch so the token can go in a header.
async function stream(generation) {
  const q = filter ? '?filter=' + encodeURIComponent(filter) : '';
  const resp = await fetch('api/v1/events' + q, { headers: headers(), cache: 'no-store' });
  if (!resp.ok || !resp.body) throw new Error('events: HTTP ' + resp.status);
  status('live');
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done || generation !== current) return;
    buf += dec.decode(value, { stream: true });
    let at;
    while ((at = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, at);
      buf = buf.slice(at + 2);
      let ev = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) ev = line.slice(6).trim();
        else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
      }
      if (ev === 'resync') await load();
      else if (data) apply(ev, JSON.parse(data));
    }
  }
}

let current = 0;
async function restart() {
  current += 1;
  const generation = current;
  try {
    if (!(await load())) return;
    await stream(generation);
  } catch (e) {
    status('disconnected: ' + e.message + '; retrying');
  }
  if (generation === current) setTimeout(() => { if (generation === current) restart(); }, 2000);
}

async function audit() {
  try {
    const resp = await fetch('api/v1/audit', { headers: headers(), cache: 'no-store' });
    if (!resp.ok) return;
    const doc = await resp.json();
    const ul = document.getElementById('findings');
    const frag = document.createDocumentFragment();
    for (const f of doc.findings || []) {
      const li = document.createElement('li');
      li.className = f.severity || '';
      li.textContent = (f.severity || '') + ' ' + (f.rule || '') + ': ' + txt(f.message);
      frag.appendChild(li);
    }
    if (!(doc.findings || []).length) {
      const li = document.createElement('li');
      li.textContent = 'no findings';
      frag.appendChild(li);
    }
    ul.replaceChildren(frag);
  } catch (e) { /* the next round tries again */ }
}

const SVG = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function isLocal(addr) {
  return /^127\./.test(addr) || addr === '::1' || /^::ffff:127\./.test(addr);
}

// Processes (or containers) as nodes, their listeners as ports beside
// them, and local connections as edges from a client to the listener.
function drawMap() {
  const map = document.getElementById('map');
  const W = 900;
  const H = 360;
  const procs = new Map(); // label -> {x, y}
  const ports = new Map(); // proto:port -> {label, owner}
  const live = [];
  for (const r of rows.values()) if (!r.gone) live.push(r.s);
  const name = (s) => {
    const o = owner(s);
    if (!o) return '?';
    return o.container ? 'container ' + txt(o.container) : txt(o.name) + ' (' + o.pid + ')';
  };
  for (const s of live) {
    if (s.state === 'LISTEN' && s.local && 'port' in s.local) {
      const k = s.proto + ':' + s.local.port;
      if (!ports.has(k)) ports.set(k, { label: s.proto + '/' + s.local.port, owner: name(s) });
      procs.set(name(s), null);
    }
  }
  const edges = new Map();
  for (const s of live) {
    if (s.proto !== 'tcp' || s.state !== 'ESTABLISHED' || !s.remote || !('addr' in s.remote)) continue;
    if (!isLocal(String(s.remote.addr))) continue;
    const k = 'tcp:' + s.remote.port;
    if (!ports.has(k)) continue;
    const from = name(s);
    procs.set(from, null);
    edges.set(from + '\u0000' + k, { from, to: k });
  }
  const names = [...procs.keys()].sort().slice(0, 40);
  const cx = W / 2;
  const cy = H / 2;
  names.forEach((n, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, names.length);
    procs.set(n, { x: cx + Math.cos(a) * (W / 2 - 170), y: cy + Math.sin(a) * (H / 2 - 40) });
  });
  const frag = document.createDocumentFragment();
  const portAt = new Map();
  const nth = new Map();
  for (const [k, p] of ports) {
    const at = procs.get(p.owner);
    if (!at) continue;
    const i = nth.get(p.owner) || 0;
    nth.set(p.owner, i + 1);
    if (i >= 6) continue;
    const pos = { x: at.x + 60 + (i % 3) * 55, y: at.y + 16 + Math.floor(i / 3) * 16 };
    portAt.set(k, pos);
    frag.appendChild(svg('line', { x1: at.x, y1: at.y, x2: pos.x, y2: pos.y, class: 'listen' }));
  }
  for (const e of edges.values()) {
    const a = procs.get(e.from);
    const b = portAt.get(e.to);
    if (a && b) frag.appendChild(svg('line', { x1: a.x, y1: a.y, x2: b.x, y2: b.y }));
  }
  for (const n of names) {
    const at = procs.get(n);
    frag.appendChild(svg('circle', { cx: at.x, cy: at.y, r: 7, class: 'proc' }));
    frag.appendChild(svg('text', { x: at.x + 10, y: at.y + 4 }, n.length > 40 ? n.slice(0, 39) + '…' : n));
  }
  for (const [k, pos] of portAt) {
    frag.appendChild(svg('rect', { x: pos.x - 4, y: pos.y - 4, width: 8, height: 8, class: 'port' }));
    frag.appendChild(svg('text', { x: pos.x + 6, y: pos.y + 4 }, ports.get(k).label));
  }
  map.replaceChildren(frag);
}

document.getElementById('filter-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  filter = document.getElementById('filter').value.trim();
  restart();
});
document.getElementById('group').addEventListener('change', (ev) => {
  group = ev.target.value;
  dirty = true;
});
for (const th of document.querySelectorAll('th[data-col]')) {
  th.addEventListener('click', () => {
    if (sortCol === th.dataset.col) sortDir = -sortDir;
    else { sortCol = th.dataset.col; sortDir = 1; }
    dirty = true;
  });
}

// Redraw on news, and twice a second so highlights fade on time.
setInterval(() => {
  const now = Date.now();
  let fading = false;
  for (const r of rows.values()) {
    if ((r.gone && now - r.gone < GONE_MS + 600) || (r.appeared && now - r.appeared < NEW_MS + 600)) fading = true;
  }
  if (dirty || fading) render();
}, 500);
setInterval(audit, 5000);
audit();
restart();
