// The Salesforce-like agent console of the Live Agent simulator. It uses only
// the simulator's control API: GET …/events (Server-Sent Events; polling
// …/chats as a fallback) and the POST actions of …/chats/{id}/….
//
// The control API base is, in order: ?api=/same/origin/path, the page's
// <meta name="control-api">, or "../control" relative to the page.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const NAME_KEY = 'line-sf-bridge.demo.agent-name';

  function resolveAPI() {
    const q = new URLSearchParams(location.search).get('api');
    if (q && /^\/(?!\/)[^\s\\]*$/.test(q)) return q.replace(/\/+$/, '');
    const meta = document.querySelector('meta[name=control-api]');
    const m = meta ? meta.content.trim() : '';
    if (m && m !== '{{API}}') return m.replace(/\/+$/, '');
    return new URL('../control', location.href).pathname;
  }
  const API = resolveAPI();

  const state = {
    chats: new Map(), selected: '', unread: new Set(), fresh: new Set(),
    es: null, pollTimer: 0, typingTimer: 0, transcriptKey: '', filesKey: '',
  };

  // ---- helpers ----

  function toast(msg) {
    const t = $('toast');
    t.textContent = msg;
    t.classList.toggle('hidden', !msg);
    if (msg) setTimeout(() => { if (t.textContent === msg) t.classList.add('hidden'); }, 6000);
  }

  function setConn(kind, text) {
    $('conn').className = 'conn ' + kind;
    $('conn').textContent = text;
  }

  function time(v) {
    if (!v) return '';
    const d = typeof v === 'number' ? new Date(v) : new Date(v);
    return isNaN(d) || d.getFullYear() < 2000 ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  function prechat(c) {
    return Array.isArray(c.prechatDetails) ? c.prechatDetails : [];
  }

  function lineId(c) {
    const d = prechat(c).find((p) => /lineid/i.test(p.label || ''));
    return d ? d.value : '';
  }

  const STATE_LABEL = { created: 'Created', queued: 'Waiting', established: 'In progress', ended: 'Ended', expired: 'Expired' };

  async function call(method, path, body) {
    const res = await fetch(API + path, {
      method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined,
    });
    let data = null;
    try { data = await res.json(); } catch (_) { /* empty */ }
    if (!res.ok) throw new Error((data && data.error) || res.status + ' ' + res.statusText);
    return data;
  }

  async function act(path, body, method) {
    const id = state.selected;
    if (!id) return null;
    try {
      const v = await call(method || 'POST', `/chats/${encodeURIComponent(id)}/${path}`, body);
      // The live stream already brought this change, and maybe later ones
      // this answer would undo: use the answer only without a stream.
      const live = state.es && state.es.readyState === EventSource.OPEN;
      if (v && v.id && v.state && !live) update(v);
      return v;
    } catch (e) {
      toast(e.message);
      return null;
    }
  }

  // ---- state ----

  function update(c) {
    const had = state.chats.has(c.id);
    state.chats.set(c.id, c);
    if (!had && c.state === 'queued') state.fresh.add(c.id);
    render();
  }

  // ---- rendering: list ----

  // List entries are kept per chat and updated in place, so a click is never
  // lost to a re-render.
  const entries = new Map();

  function chatItem(c) {
    let en = entries.get(c.id);
    if (!en) {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'chat-item';
      b.dataset.chat = c.id;
      const name = document.createElement('span');
      name.className = 'name';
      const badge = document.createElement('span');
      const sub = document.createElement('span');
      sub.className = 'sub';
      b.append(name, badge, sub);
      b.addEventListener('click', () => select(c.id));
      li.appendChild(b);
      en = { li, b, name, badge, sub };
      entries.set(c.id, en);
    }
    en.b.classList.toggle('unread', state.unread.has(c.id));
    en.b.classList.toggle('new', state.fresh.has(c.id));
    en.b.setAttribute('aria-current', String(c.id === state.selected));
    en.name.textContent = c.visitorName || '(no name yet)';
    en.badge.className = 'badge ' + c.state;
    en.badge.textContent = STATE_LABEL[c.state] || c.state;
    const last = (c.transcript || []).findLast((e) => e.content);
    let s = c.state === 'queued' && c.queuePosition ? `Queue #${c.queuePosition} · ` : '';
    s += last && last.content ? last.content : 'Requested ' + time(c.createdAt);
    en.sub.textContent = s;
    return en.li;
  }

  function renderList() {
    const groups = { incoming: [], active: [], ended: [] };
    for (const c of state.chats.values()) {
      if (c.state === 'queued' || c.state === 'created') groups.incoming.push(c);
      else if (c.state === 'established') groups.active.push(c);
      else groups.ended.push(c);
    }
    groups.ended.sort((a, b) => Date.parse(b.endedAt || b.createdAt) - Date.parse(a.endedAt || a.createdAt));
    groups.ended = groups.ended.slice(0, 15);
    for (const id of entries.keys()) {
      if (!state.chats.has(id)) entries.delete(id);
    }
    for (const [k, list] of Object.entries(groups)) {
      const want = list.map(chatItem);
      const ul = $(k);
      const cur = [...ul.children];
      if (cur.length !== want.length || cur.some((x, i) => x !== want[i])) ul.replaceChildren(...want);
      $('n-' + k).textContent = String(list.length);
    }
  }

  // ---- rendering: the selected chat ----

  function kv(dl, rows) {
    dl.replaceChildren();
    for (const [k, v] of rows) {
      if (v === '' || v === undefined || v === null) continue;
      const dt = document.createElement('dt');
      dt.textContent = k;
      const dd = document.createElement('dd');
      dd.textContent = String(v);
      dl.append(dt, dd);
    }
  }

  function transcriptLines(c) {
    const lines = [{ t: Date.parse(c.createdAt), kind: 'event', text: `Chat requested by ${c.visitorName || 'the visitor'}` }];
    if (c.establishedAt) lines.push({ t: Date.parse(c.establishedAt), kind: 'event', text: 'Chat accepted' });
    for (const f of c.files || []) {
      lines.push({ t: Date.parse(f.uploadedAt), kind: 'event', text: `File uploaded: ${f.name}` });
    }
    for (const e of c.transcript || []) {
      if (e.type === 'OperatorTransferred') lines.push({ t: e.timestamp, kind: 'event', text: `Transferred to ${e.name}` });
      else lines.push({ t: e.timestamp, kind: e.type, who: e.name, text: e.content });
    }
    lines.sort((a, b) => a.t - b.t);
    if (c.endedAt) {
      const by = c.endedBy ? ` by the ${c.endedBy}` : '';
      lines.push({ t: Date.parse(c.endedAt), kind: 'event', text: `Chat ended${by}${c.endReason && c.endReason !== c.endedBy ? ' (' + c.endReason + ')' : ''}` });
    }
    return lines;
  }

  function renderTranscript(c) {
    const lines = transcriptLines(c);
    const key = c.id + '|' + lines.length + '|' + (c.endedAt || '');
    if (key === state.transcriptKey) return;
    state.transcriptKey = key;
    const ol = $('transcript');
    ol.replaceChildren(...lines.map((l) => {
      const li = document.createElement('li');
      li.className = 'line ' + l.kind;
      if (l.kind === 'event') {
        li.textContent = `${l.text} · ${time(l.t)}`;
        return li;
      }
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = `${l.who || (l.kind === 'Agent' ? 'Agent' : 'Visitor')} · ${time(l.t)}`;
      const text = document.createElement('span');
      text.className = 'text';
      text.textContent = l.text;
      li.append(who, text);
      return li;
    }));
    ol.scrollTop = ol.scrollHeight;
  }

  function renderFiles(c) {
    const key = c.id + JSON.stringify([c.files, c.fileRequests]);
    if (key === state.filesKey) return;
    state.filesKey = key;
    const ul = $('files');
    const items = [];
    for (const f of c.files || []) {
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = `${API}/chats/${encodeURIComponent(c.id)}/files/${f.index}`;
      a.textContent = `${f.name} (${Math.max(1, Math.round(f.size / 1024))} KB)`;
      a.setAttribute('download', f.name);
      li.appendChild(a);
      if (/^image\//.test(f.contentType)) {
        const img = document.createElement('img');
        img.src = a.href;
        img.alt = 'Uploaded file ' + f.name;
        li.appendChild(img);
      }
      items.push(li);
    }
    for (const r of c.fileRequests || []) {
      const li = document.createElement('li');
      li.textContent = `File request: ${r.status} `;
      if (r.status === 'requested') {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = 'Cancel';
        b.addEventListener('click', () => act(`file-requests/${encodeURIComponent(r.fileToken)}`, null, 'DELETE'));
        li.appendChild(b);
      }
      items.push(li);
    }
    if (!items.length) {
      const li = document.createElement('li');
      li.className = 'empty-note';
      li.textContent = 'No files. “Request file” asks the customer for one.';
      items.push(li);
    }
    ul.replaceChildren(...items);
  }

  function renderDetail() {
    const c = state.chats.get(state.selected);
    $('empty').classList.toggle('hidden', !!c);
    $('detail').classList.toggle('hidden', !c);
    if (!c) return;
    const name = c.visitorName || '(no name yet)';
    $('tab-title').textContent = 'Chat · ' + name;
    $('visitor-name').textContent = name;
    $('state').className = 'badge ' + c.state;
    $('state').textContent = STATE_LABEL[c.state] || c.state;
    $('head-meta').textContent = c.agentName ? `Agent: ${c.agentName}` : `Requested ${time(c.createdAt)}`;

    const open = c.state === 'queued' || c.state === 'established' || c.state === 'created';
    const est = c.state === 'established';
    $('accept').disabled = c.state !== 'queued';
    $('decline').disabled = c.state !== 'queued' || !!c.establishedAt;
    $('typing').disabled = !est;
    $('typing').classList.toggle('pressed', !!c.agentTyping);
    $('typing').setAttribute('aria-pressed', String(!!c.agentTyping));
    $('typing').textContent = c.agentTyping ? 'Typing… (on)' : 'Typing';
    $('request-file').disabled = !est || (c.fileRequests || []).some((r) => r.status === 'requested');
    $('end').disabled = !open;
    $('reply').disabled = !est;
    $('send').disabled = !est || $('reply').value.trim() === '';
    $('transfer').disabled = !est;
    $('queue-form').classList.toggle('hidden', c.state !== 'queued');
    if (document.activeElement !== $('queue-pos') && c.queuePosition) $('queue-pos').value = c.queuePosition;

    const rows = prechat(c).map((p) => [p.label, p.value]);
    rows.unshift(['Name', c.visitorName]);
    kv($('prechat'), rows);
    kv($('chat-info'), [
      ['Status', STATE_LABEL[c.state] || c.state],
      ['Agent', c.agentName],
      ['Queue position', c.state === 'queued' ? c.queuePosition || '—' : ''],
      ['Requested', time(c.createdAt)],
      ['Accepted', time(c.establishedAt)],
      ['Ended', c.endedAt ? `${time(c.endedAt)} (${c.endReason || c.endedBy})` : ''],
      ['Language', c.language],
      ['Button', c.buttonId],
      ['Chat id', c.id],
      ['Messages', `${c.counters.visitorMessages} in / ${c.counters.agentMessages} out`],
    ]);
    const vt = $('visitor-typing');
    const typing = c.visitorTyping || c.sneakPeek;
    vt.classList.toggle('hidden', !typing);
    vt.textContent = c.sneakPeek ? `Visitor is typing: “${c.sneakPeek}”` : 'Visitor is typing…';
    renderTranscript(c);
    renderFiles(c);
  }

  function render() {
    renderList();
    renderDetail();
  }

  function select(id) {
    state.selected = id;
    state.unread.delete(id);
    state.fresh.delete(id);
    state.transcriptKey = '';
    render();
    const c = state.chats.get(id);
    if (c && c.state === 'established') $('reply').focus();
  }

  // ---- live updates ----

  function onEvent(ev) {
    const d = JSON.parse(ev.data);
    if (!d.chat || !d.chat.id) return;
    if (d.type === 'visitor.message' && d.chat.id !== state.selected) state.unread.add(d.chat.id);
    update(d.chat);
  }

  function startPolling() {
    if (state.pollTimer) return;
    setConn('down', 'polling');
    const poll = async () => {
      try {
        const r = await call('GET', '/chats');
        state.chats = new Map(r.chats.map((c) => [c.id, c]));
        render();
        setConn('', 'polling');
      } catch (e) {
        setConn('down', 'offline');
      }
    };
    poll();
    state.pollTimer = setInterval(poll, 2000);
  }

  function connect() {
    if (!window.EventSource) { startPolling(); return; }
    const es = new EventSource(API + '/events');
    state.es = es;
    let opened = false;
    es.addEventListener('open', () => { opened = true; setConn('live', 'live'); });
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) {
        // The stream is not available (an old simulator, a proxy): poll.
        startPolling();
      } else {
        setConn('down', opened ? 'reconnecting…' : 'connecting…');
      }
    });
    es.addEventListener('snapshot', (ev) => {
      const d = JSON.parse(ev.data);
      state.chats = new Map((d.chats || []).map((c) => [c.id, c]));
      render();
    });
    for (const t of ['chat.created', 'chat.updated', 'chat.ended', 'visitor.message', 'file.uploaded']) {
      es.addEventListener(t, onEvent);
    }
  }

  // ---- actions ----

  function agentName() {
    return $('agent-name').value.trim();
  }

  function setTyping(on) {
    const c = state.chats.get(state.selected);
    if (!c || c.state !== 'established' || !!c.agentTyping === on) return;
    c.agentTyping = on; // at once, so a burst of keystrokes sends one request
    act('typing', { typing: on });
  }

  async function sendReply() {
    const text = $('reply').value;
    if (text.trim() === '') return;
    clearTimeout(state.typingTimer);
    $('reply').value = '';
    $('send').disabled = true;
    const v = await act('messages', { text });
    if (!v) $('reply').value = text;
  }

  async function loadSettings() {
    try {
      const s = await call('GET', '/settings');
      $('auto-reply').checked = !!s.autoReply;
      const sel = $('auto-accept');
      const v = s.autoAccept === '0s' ? '0s' : s.autoAccept;
      if (![...sel.options].some((o) => o.value === v)) sel.add(new Option(v, v));
      sel.value = v;
      const a = await call('GET', '/availability');
      $('online').checked = !!a.online;
    } catch (e) {
      /* settings are optional */
    }
  }

  function init() {
    $('api-base').textContent = API;
    try { $('agent-name').value = localStorage.getItem(NAME_KEY) || ''; } catch (_) { /* ignore */ }
    $('agent-name').addEventListener('change', () => {
      try { localStorage.setItem(NAME_KEY, agentName()); } catch (_) { /* ignore */ }
    });
    $('accept').addEventListener('click', () => act('accept', agentName() ? { agentName: agentName() } : {}));
    $('decline').addEventListener('click', () => act('fail', { reason: 'Unavailable' }));
    $('typing').addEventListener('click', () => {
      const c = state.chats.get(state.selected);
      if (c) act('typing', { typing: !c.agentTyping });
    });
    $('request-file').addEventListener('click', () => act('file-requests'));
    $('end').addEventListener('click', () => act('end'));
    $('composer').addEventListener('submit', (e) => { e.preventDefault(); sendReply(); });
    const reply = $('reply');
    reply.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendReply(); }
    });
    reply.addEventListener('input', () => {
      $('send').disabled = reply.disabled || reply.value.trim() === '';
      // Typing on while the agent writes; off after a pause.
      clearTimeout(state.typingTimer);
      if (reply.value.trim() !== '') {
        setTyping(true);
        state.typingTimer = setTimeout(() => setTyping(false), 5000);
      }
    });
    $('transfer-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const to = $('transfer-to').value.trim();
      if (to) act('transfer', { agentName: to });
    });
    $('queue-form').addEventListener('submit', (e) => {
      e.preventDefault();
      act('queue', { position: Number($('queue-pos').value) || 0 });
    });
    $('online').addEventListener('change', async () => {
      try { await call('PUT', '/availability', { online: $('online').checked }); } catch (e) { toast(e.message); }
    });
    $('auto-reply').addEventListener('change', async () => {
      try { await call('PATCH', '/settings', { autoReply: $('auto-reply').checked }); } catch (e) { toast(e.message); }
    });
    $('auto-accept').addEventListener('change', async () => {
      try { await call('PATCH', '/settings', { autoAccept: $('auto-accept').value }); } catch (e) { toast(e.message); }
    });
    render();
    connect();
    loadSettings();
  }

  document.addEventListener('DOMContentLoaded', init);
})();
