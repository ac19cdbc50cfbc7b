// The operator view: the bridge's open and recent chats with their latest
// events, live from /demo/api/operator/stream (polling /chats as a fallback).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const API = '/demo/api/operator';
  const DESK_KINDS = new Set(['requested', 'queue_update', 'request_failed', 'agent_joined', 'transferred', 'agent_left',
    'agent_message', 'agent_typing', 'agent_not_typing', 'file_requested', 'file_result']);
  let pollTimer = 0;

  function time(v) {
    if (!v) return '';
    const d = new Date(v);
    return isNaN(d) || d.getFullYear() < 2000 ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  }

  function setConn(kind, text) {
    $('conn').className = 'conn ' + kind;
    $('conn').textContent = text;
  }

  function describe(e) {
    switch (e.kind) {
      case 'started': return 'desk session created';
      case 'requested': return e.position ? `queued, position ${e.position}` : 'queued';
      case 'queue_update': return e.position ? `queue position ${e.position}` : 'queue update';
      case 'agent_joined': return `${e.agent_name || 'agent'} joined`;
      case 'transferred': return `transferred to ${e.agent_name || 'another agent'}`;
      case 'agent_typing': return 'agent typing';
      case 'agent_not_typing': return 'agent stopped typing';
      case 'ended': return `ended (${e.end_reason || e.reason || '?'})`;
      case 'request_failed': return `request failed${e.reason ? ' (' + e.reason + ')' : ''}`;
      case 'file_requested': return 'agent asked for a file';
      case 'file_result': return `file: ${e.reason || ''}`;
      default: return e.text || '';
    }
  }

  function el(tag, cls, text) {
    const x = document.createElement(tag);
    if (cls) x.className = cls;
    if (text !== undefined) x.textContent = text;
    return x;
  }

  function card(c) {
    const art = el('article', 'chat-card' + (c.status === 'ended' ? ' closed' : ''));
    art.dataset.chat = c.id;
    art.dataset.customer = c.customer;
    art.dataset.status = c.status;
    const head = el('header');
    head.append(el('h2', '', c.visitor_name || '(unknown)'), el('span', 'badge ' + c.status, c.status));
    if (c.active) head.append(el('span', 'badge', 'active'));
    head.append(el('span', 'ids', `${c.customer} · chat ${c.id}`));
    art.appendChild(head);
    const facts = el('dl', 'facts');
    const add = (k, v) => { if (v) facts.append(el('dt', '', k), el('dd', '', v)); };
    add('Agent', c.agent_name || '—');
    add('Created', time(c.created_at));
    add('Accepted', time(c.established_at));
    add('Ended', c.ended_at ? `${time(c.ended_at)} (${c.end_reason || 'ended'})` : '');
    add('Language', c.language);
    add('File request', c.file_requested ? 'open' : '');
    add('Events', String(c.event_count));
    art.appendChild(facts);
    const ol = el('ol', 'events');
    ol.setAttribute('aria-label', 'Latest events, newest first');
    for (const e of [...c.events].reverse()) {
      const li = el('li');
      const t = el('time', '', time(e.time));
      t.dateTime = e.time;
      li.append(t, el('span', 'kind' + (DESK_KINDS.has(e.kind) ? ' desk' : ''), e.kind), el('span', 'txt', describe(e)));
      ol.appendChild(li);
    }
    art.appendChild(ol);
    if (c.event_count > c.events.length) art.appendChild(el('p', 'more', `${c.event_count - c.events.length} earlier events not shown`));
    return art;
  }

  function render(v) {
    const chats = v.chats || [];
    $('error').textContent = v.error || '';
    $('error').classList.toggle('hidden', !v.error);
    $('none').classList.toggle('hidden', chats.length > 0);
    const n = (pred) => String(chats.filter(pred).length);
    $('s-open').textContent = n((c) => c.status !== 'ended');
    $('s-requested').textContent = n((c) => c.status === 'requested' || c.status === 'starting');
    $('s-established').textContent = n((c) => c.status === 'established');
    $('s-ended').textContent = n((c) => c.status === 'ended');
    $('chats').replaceChildren(...chats.map(card));
  }

  function poll() {
    if (pollTimer) return;
    const once = async () => {
      try {
        const r = await fetch(API + '/chats');
        render(await r.json());
        setConn('', 'polling');
      } catch (e) {
        setConn('down', 'offline');
      }
    };
    once();
    pollTimer = setInterval(once, 2000);
  }

  function init() {
    if (!window.EventSource) { poll(); return; }
    const es = new EventSource(API + '/stream');
    es.addEventListener('open', () => setConn('live', 'live'));
    es.addEventListener('error', () => {
      if (es.readyState === EventSource.CLOSED) poll();
      else setConn('down', 'reconnecting…');
    });
    es.addEventListener('chats', (ev) => render(JSON.parse(ev.data)));
  }

  document.addEventListener('DOMContentLoaded', init);
})();
