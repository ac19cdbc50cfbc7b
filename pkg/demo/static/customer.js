// The LINE-like customer pane. It talks only to /demo/api/customer…: sends go
// to the bridge's webhook as signed LINE events; the stream shows what the
// stand-in LINE platform delivered to this user.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const STORE = 'line-sf-bridge.demo.customer';
  const API = '/demo/api';

  // Stickers of the palette: LINE's package 446 ids, drawn as small SVGs.
  const STICKERS = {
    '1988': { label: 'Happy', face: '#ffd34d', mouth: 'M34 62 Q50 78 66 62', eyes: 'open' },
    '1989': { label: 'Thanks', face: '#ff9fb0', mouth: 'M36 64 Q50 72 64 64', eyes: 'closed' },
    '1990': { label: 'OK', face: '#8fd7ff', mouth: 'M38 64 L62 64', eyes: 'open' },
    '1991': { label: 'Sad', face: '#c7b8ff', mouth: 'M36 70 Q50 58 64 70', eyes: 'open' },
  };

  const state = { user: '', name: '', lang: 'ja', es: null, items: new Map(), loading: null, loadingTimer: 0 };

  function stickerSVG(id) {
    const s = STICKERS[id] || STICKERS['1988'];
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 100 100');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', 'Sticker: ' + s.label);
    const add = (tag, attrs) => {
      const el = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      svg.appendChild(el);
      return el;
    };
    add('circle', { cx: 50, cy: 50, r: 42, fill: s.face, stroke: '#3a2a1a', 'stroke-width': 4 });
    if (s.eyes === 'closed') {
      add('path', { d: 'M30 42 Q36 36 42 42 M58 42 Q64 36 70 42', fill: 'none', stroke: '#3a2a1a', 'stroke-width': 4, 'stroke-linecap': 'round' });
    } else {
      add('circle', { cx: 36, cy: 42, r: 5, fill: '#3a2a1a' });
      add('circle', { cx: 64, cy: 42, r: 5, fill: '#3a2a1a' });
    }
    add('path', { d: s.mouth, fill: 'none', stroke: '#3a2a1a', 'stroke-width': 4, 'stroke-linecap': 'round' });
    add('circle', { cx: 26, cy: 58, r: 6, fill: '#ff6f91', opacity: 0.5 });
    add('circle', { cx: 74, cy: 58, r: 6, fill: '#ff6f91', opacity: 0.5 });
    return svg;
  }

  function hhmm(iso) {
    const d = new Date(iso);
    return isNaN(d) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
  }

  function toast(msg) {
    const t = $('toast');
    t.textContent = msg;
    t.classList.toggle('hidden', !msg);
    if (msg) setTimeout(() => { if (t.textContent === msg) t.classList.add('hidden'); }, 5000);
  }

  function setConn(kind, text) {
    const c = $('conn');
    c.className = 'conn ' + kind;
    c.textContent = text;
  }

  // ---- rendering ----

  function renderItem(it) {
    const li = document.createElement('li');
    li.dataset.id = it.id;
    li.dataset.at = it.at;
    if (it.kind === 'postback') {
      li.className = 'system';
      li.textContent = 'postback: ' + it.text;
      return li;
    }
    li.className = 'msg ' + it.dir + (it.dir === 'in' ? ' ' + (it.from || 'bot') : '');
    if (it.dir === 'in') {
      const av = document.createElement('span');
      av.className = 'avatar' + (it.from === 'agent' ? ' agent' : '');
      av.setAttribute('aria-hidden', 'true');
      av.textContent = it.from === 'agent' ? (it.name || 'A').trim().charAt(0) : 'DS';
      li.appendChild(av);
    }
    const body = document.createElement('div');
    body.className = 'body';
    if (it.dir === 'in') {
      const who = document.createElement('span');
      who.className = 'sender';
      who.textContent = it.from === 'agent' ? 'Demo Shop · ' + (it.name || 'agent') : 'Demo Shop (bot)';
      body.appendChild(who);
    }
    if (it.kind === 'sticker') {
      const svg = stickerSVG(it.sticker);
      svg.classList.add('sticker');
      body.appendChild(svg);
    } else if (it.kind === 'image') {
      const img = document.createElement('img');
      img.className = 'photo';
      img.src = '/demo/assets/sample.png';
      img.alt = 'Photo sent';
      body.appendChild(img);
    } else {
      const b = document.createElement('div');
      b.className = 'bubble';
      b.textContent = it.text;
      body.appendChild(b);
    }
    li.appendChild(body);
    const meta = document.createElement('span');
    meta.className = 'meta';
    if (it.dir === 'out') {
      if (it.status === -1 || it.status >= 300) {
        const f = document.createElement('span');
        f.className = 'failed';
        f.textContent = it.status === -1 ? '送信失敗' : '送信失敗 ' + it.status;
        f.title = 'The webhook did not accept this message';
        meta.appendChild(f);
      } else if (it.read) {
        const r = document.createElement('span');
        r.className = 'read';
        r.textContent = '既読';
        r.title = 'Read';
        meta.appendChild(r);
      }
    }
    const t = document.createElement('time');
    t.dateTime = it.at;
    t.textContent = hhmm(it.at);
    meta.appendChild(t);
    li.appendChild(meta);
    return li;
  }

  function upsert(it) {
    const list = $('messages');
    const el = renderItem(it);
    const old = state.items.get(it.id);
    state.items.set(it.id, it);
    if (old) {
      const cur = list.querySelector(`li[data-id="${CSS.escape(it.id)}"]`);
      if (cur) { cur.replaceWith(el); return; }
    }
    // Keep the list in time order; new items are nearly always last.
    const at = Date.parse(it.at);
    let before = null;
    for (const li of list.querySelectorAll('li[data-id]')) {
      if (Date.parse(li.dataset.at) > at) { before = li; break; }
    }
    list.insertBefore(el, before || $('loading-row'));
    if (it.dir === 'in' && state.loading && at >= state.loading.at) hideLoading();
    scrollDown();
  }

  function scrollDown() {
    const chat = $('chat');
    chat.scrollTop = chat.scrollHeight;
  }

  function loadingRow() {
    let li = $('loading-row');
    if (!li) {
      li = document.createElement('li');
      li.id = 'loading-row';
      li.className = 'msg in agent loading-row hidden';
      li.setAttribute('aria-label', 'The agent is typing… 入力中');
      const av = document.createElement('span');
      av.className = 'avatar agent';
      av.setAttribute('aria-hidden', 'true');
      av.textContent = '…';
      const b = document.createElement('div');
      b.className = 'bubble';
      for (let i = 0; i < 3; i++) {
        const d = document.createElement('span');
        d.className = 'dot';
        b.appendChild(d);
      }
      li.append(av, b);
      $('messages').appendChild(li);
    }
    return li;
  }

  function showLoading(l) {
    const at = Date.parse(l.at);
    const until = at + l.seconds * 1000;
    // A message that arrived after the animation started ends it, as on LINE.
    for (const it of state.items.values()) {
      if (it.dir === 'in' && Date.parse(it.at) >= at) return;
    }
    if (Date.now() >= until) return;
    state.loading = { at, until };
    const li = loadingRow();
    li.classList.remove('hidden');
    $('messages').appendChild(li);
    clearTimeout(state.loadingTimer);
    state.loadingTimer = setTimeout(hideLoading, until - Date.now());
    scrollDown();
  }

  function hideLoading() {
    state.loading = null;
    clearTimeout(state.loadingTimer);
    loadingRow().classList.add('hidden');
  }

  // ---- network ----

  async function post(url, body) {
    const res = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    let data = {};
    try { data = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) throw new Error(data.error || res.status + ' ' + res.statusText);
    return data;
  }

  async function send(body) {
    try {
      const r = await post(`${API}/customer/${state.user}/send`, body);
      if (!r.ok) toast(`The bridge answered ${r.webhook_status} to this message.`);
    } catch (e) {
      toast('Not sent: ' + e.message);
    }
  }

  function connect() {
    if (state.es) state.es.close();
    const es = new EventSource(`${API}/customer/${state.user}/stream`);
    state.es = es;
    setConn('', 'connecting…');
    es.addEventListener('open', () => setConn('live', 'live'));
    es.addEventListener('error', () => setConn('down', es.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting…'));
    es.addEventListener('reset', () => {
      state.items.clear();
      $('messages').replaceChildren();
      hideLoading();
    });
    es.addEventListener('item', (ev) => upsert(JSON.parse(ev.data)));
    es.addEventListener('loading', (ev) => showLoading(JSON.parse(ev.data)));
  }

  async function start(name, lang, user) {
    $('setup-error').textContent = '';
    try {
      const r = await post(`${API}/customers`, { name, language: lang, user: user || '' });
      state.user = r.user;
      state.name = r.name;
      state.lang = lang;
      try { localStorage.setItem(STORE, JSON.stringify({ user: r.user, name: r.name, lang })); } catch (_) { /* private mode */ }
    } catch (e) {
      $('setup-error').textContent = e.message;
      return;
    }
    $('whoami').textContent = state.name + ' · ' + state.user.slice(0, 9) + '…';
    $('user-info').textContent = `You are ${state.name}, LINE user id ${state.user}. The agent sees this id as ContactLineId.`;
    document.body.dataset.user = state.user;
    for (const id of ['setup']) $(id).classList.add('hidden');
    for (const id of ['chat', 'quick', 'composer', 'switch']) $(id).classList.remove('hidden');
    connect();
    $('text').focus();
  }

  function reset() {
    if (state.es) state.es.close();
    try { localStorage.removeItem(STORE); } catch (_) { /* ignore */ }
    location.href = location.pathname;
  }

  // ---- wiring ----

  function init() {
    $('setup-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const name = $('name').value.trim();
      if (name) start(name, $('lang').value);
    });
    for (const b of document.querySelectorAll('.suggest .chip')) {
      b.addEventListener('click', () => { $('name').value = b.dataset.name; $('name').focus(); });
    }
    const text = $('text');
    text.addEventListener('input', () => { $('send').disabled = text.value.trim() === ''; });
    $('composer').addEventListener('submit', (e) => {
      e.preventDefault();
      const t = text.value;
      if (t.trim() === '') return;
      text.value = '';
      $('send').disabled = true;
      send({ text: t });
    });
    for (const b of document.querySelectorAll('#quick .chip')) {
      b.addEventListener('click', () => send({ text: b.dataset.text }));
    }
    const pal = $('stickers');
    for (const [id, s] of Object.entries(STICKERS)) {
      const b = document.createElement('button');
      b.type = 'button';
      b.dataset.sticker = id;
      b.title = s.label;
      b.setAttribute('aria-label', 'Send sticker: ' + s.label);
      b.appendChild(stickerSVG(id));
      b.addEventListener('click', () => {
        send({ sticker: { packageId: '446', stickerId: id } });
        pal.classList.add('hidden');
        $('sticker-btn').setAttribute('aria-expanded', 'false');
      });
      pal.appendChild(b);
    }
    $('sticker-btn').addEventListener('click', () => {
      const open = pal.classList.toggle('hidden') === false;
      $('sticker-btn').setAttribute('aria-expanded', String(open));
    });
    $('image-btn').addEventListener('click', () => send({ image: true }));
    $('switch').addEventListener('click', reset);

    const q = new URLSearchParams(location.search);
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(STORE) || 'null'); } catch (_) { /* ignore */ }
    if (q.get('name')) {
      start(q.get('name'), q.get('lang') || 'ja', q.get('user') || '');
    } else if (saved && saved.user && saved.name) {
      start(saved.name, saved.lang || 'ja', saved.user);
    } else {
      $('name').focus();
    }
  }

  document.addEventListener('DOMContentLoaded', init);
})();
