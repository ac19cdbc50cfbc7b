package bridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// runner drives one customer on the instance that holds its lease: the
// desk poll loop in run, and on-demand drains of the outbox and of each
// sink's cursor. All of them stop when ctx ends; run waits for them.
type runner struct {
	b      *Bridge
	c      CustomerID
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{}

	mu         sync.Mutex
	stopped    bool
	wg         sync.WaitGroup
	pollCancel context.CancelFunc
	pollChat   ChatID
	pollAbort  bool

	outbox *drainer
	check  *drainer // reloads the chat and aborts a poll of an ended chat
	sinks  []*drainer
	dirty  atomic.Bool          // the chat record changed since the poll loop read it
	latest atomic.Pointer[Chat] // the chat record as last read or written here
}

func newRunner(b *Bridge, c CustomerID) *runner {
	ctx, cancel := context.WithCancel(b.base)
	r := &runner{b: b, c: c, ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1)}
	r.outbox = &drainer{r: r, fn: r.drainOutbox}
	r.check = &drainer{r: r, fn: r.checkChat}
	for _, s := range b.sinks {
		s := s
		d := &drainer{r: r}
		d.fn = func(ctx context.Context) { r.drainSink(ctx, s, &d.pos) }
		r.sinks = append(r.sinks, d)
	}
	return r
}

// poke reacts to a change of the customer's state, doing only what the
// change calls for.
//
// evs, when known (a change made on this instance), are the events
// appended: only the sinks that take one of them are woken.
func (r *runner) poke(what Change, evs []Event) {
	if what&ChangedChat != 0 {
		r.dirty.Store(true)
		select {
		case r.wake <- struct{}{}:
		default:
		}
		r.check.kick()
	}
	if what&ChangedOutbox != 0 {
		r.outbox.kick()
	}
	if what&ChangedLog != 0 {
		for i, d := range r.sinks {
			if evs == nil || slices.ContainsFunc(evs, r.b.sinks[i].Accepts) {
				d.kick()
			}
		}
	}
}

// kickAll starts every drain: on adoption (a previous owner may have left
// work) and now and then as a safety net for lost notifications.
func (r *runner) kickAll() {
	r.outbox.kick()
	for _, d := range r.sinks {
		d.kick()
	}
}

// sweepEvery is how often the poll loop re-checks the outbox and the sinks
// even without a notification.
const sweepEvery = 30 * time.Second

// run is the poll loop. It reports whether it finished the customer (lease
// released, nothing left to do) rather than being stopped.
func (r *runner) run() (released bool) {
	b := r.b
	var lastState []byte
	defer func() {
		r.cancel()
		r.mu.Lock()
		r.stopped = true
		r.mu.Unlock()
		r.wg.Wait()
		if d, ok := b.desk.(Detacher); ok && lastState != nil {
			d.Detach(lastState)
		}
	}()
	fails := 0
	var ch Chat
	have := false
	var swept time.Time
	for r.ctx.Err() == nil {
		if !have || r.dirty.Swap(false) {
			loaded, err := b.store.Chat(r.ctx, r.c)
			if errors.Is(err, ErrNoChat) {
				return r.release()
			}
			if err != nil {
				fails++
				b.log.WarnContext(r.ctx, "load chat failed", "customer", r.c, "err", err)
				sleep(r.ctx, backoff(fails, b.opt.MaxBackoff))
				continue
			}
			ch, have = loaded, true
			r.latest.Store(&loaded)
		}
		switch ch.Status {
		case StatusEnded:
			if r.finish(ch) {
				return true
			}
			have = false
			continue
		case StatusStarting:
			if b.opt.Now().Sub(ch.CreatedAt) > b.opt.StartTimeout {
				if err := b.end(r.ctx, ch, b.opt.Owner, EndStartFailed, "start timed out"); err != nil {
					sleep(r.ctx, backoff(fails, b.opt.MaxBackoff))
				}
			} else {
				r.waitWake(time.Second)
			}
			have = false
			continue
		}
		if now := b.opt.Now(); now.Sub(swept) >= sweepEvery {
			swept = now
			r.kickAll()
		}
		lastState = ch.DeskState
		batch, err := r.poll(ch)
		if r.ctx.Err() != nil {
			return false
		}
		if err != nil {
			if r.aborted() {
				have = false
				continue
			}
			switch {
			case errors.Is(err, ErrSessionGone):
				b.opt.Metrics.Polls.WithLabelValues("gone").Inc()
				b.log.InfoContext(r.ctx, "desk session gone", "customer", r.c, "chat", ch.ID, "err", err)
				_ = b.end(r.ctx, ch, b.opt.Owner, EndExpired, err.Error())
				have = false
			case errors.Is(err, ErrChatTerminated):
				b.opt.Metrics.Polls.WithLabelValues("terminated").Inc()
				b.log.WarnContext(r.ctx, "desk terminated the chat", "customer", r.c, "chat", ch.ID, "err", err)
				r.endAtDesk(ch)
				_ = b.end(r.ctx, ch, b.opt.Owner, EndDeskError, err.Error())
				have = false
			default:
				fails++
				b.opt.Metrics.Polls.WithLabelValues("error").Inc()
				b.opt.Metrics.DeskErrors.WithLabelValues("receive").Inc()
				b.log.WarnContext(r.ctx, "desk receive failed", "customer", r.c, "attempt", fails, "err", err)
				sleep(r.ctx, backoff(fails, b.opt.MaxBackoff))
			}
			continue
		}
		fails = 0
		if len(batch.Events) == 0 && batch.State == nil {
			b.opt.Metrics.Polls.WithLabelValues("empty").Inc()
			continue
		}
		b.opt.Metrics.Polls.WithLabelValues("events").Inc()
		cm := r.commitFor(ch, batch)
		if len(batch.Events) > 0 {
			cm.Notify |= ChangedLog
		}
		if cm.Status == StatusEstablished && ch.Status != StatusEstablished {
			cm.Notify |= ChangedOutbox // held messages can go now
		}
		stored, err := b.store.Commit(r.ctx, r.c, cm)
		if err != nil {
			have = false
			if errors.Is(err, ErrFenced) {
				b.log.WarnContext(r.ctx, "lease lost while storing a batch", "customer", r.c)
				return false
			}
			if !errors.Is(err, ErrStale) {
				// Not acknowledged: the desk redelivers the batch.
				fails++
				b.log.ErrorContext(r.ctx, "store batch failed", "customer", r.c, "err", err)
				sleep(r.ctx, backoff(fails, b.opt.MaxBackoff))
			}
			continue
		}
		ch = stored
		r.latest.Store(&stored)
		if cm.Notify != 0 {
			b.changedWith(r.c, cm.Notify, cm.Events)
		}
	}
	return false
}

func (r *runner) poll(ch Chat) (Batch, error) {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	r.mu.Lock()
	r.pollCancel, r.pollChat, r.pollAbort = cancel, ch.ID, false
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.pollCancel = nil
		r.mu.Unlock()
	}()
	return r.b.desk.Receive(ctx, ch.DeskState)
}

// checkPoll aborts the poll in flight if the chat it polls is over.
func (r *runner) checkPoll(ch Chat) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pollCancel != nil && (ch.ID != r.pollChat || !ch.Status.Open()) {
		r.pollAbort = true
		r.pollCancel()
	}
}

// checkChat reloads the chat after a change made elsewhere (a /close on
// another instance) and aborts the poll if the chat is over.
func (r *runner) checkChat(ctx context.Context) {
	ch, err := r.b.store.Chat(ctx, r.c)
	if err == nil {
		r.latest.Store(&ch)
		r.checkPoll(ch)
	}
}

func (r *runner) aborted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pollAbort
}

func (r *runner) waitWake(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-r.wake:
	case <-t.C:
	case <-r.ctx.Done():
	}
}

func (r *runner) endAtDesk(ch Chat) {
	seq, err := r.b.store.NextSeq(r.ctx, r.c)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.b.opt.DeskTimeout)
	defer cancel()
	_ = r.b.desk.End(ctx, ch.DeskState, seq)
}

// commitFor turns a desk batch into a commit: stable event ids, and the
// chat's status derived from the events.
func (r *runner) commitFor(ch Chat, batch Batch) Commit {
	now := r.b.opt.Now()
	cm := Commit{Chat: ch.ID, Owner: r.b.opt.Owner, DeskSeq: batch.Seq, DeskState: batch.State}
	tag := string(ch.ID) + ".b" + NewID()
	for i, e := range batch.Events {
		e.Batch = tag
		if e.ID == "" {
			e.ID = strconv.FormatInt(batch.Seq, 10) + "." + strconv.Itoa(i)
		}
		e.ID = string(ch.ID) + "." + e.ID
		e.Chat = ch.ID
		if e.Time.IsZero() {
			e.Time = now
		}
		switch e.Kind {
		case KindAgentJoined, KindTransferred:
			if cm.Status != StatusEnded {
				cm.Status = StatusEstablished
			}
			if e.AgentName != "" {
				cm.AgentName = e.AgentName
			}
		case KindFileRequested:
			cm.FileRequest, cm.ClearFile = e.File, false
		case KindFileResult:
			cm.FileRequest, cm.ClearFile = nil, true
		case KindEnded:
			if e.EndReason == "" {
				e.EndReason = EndByAgent
			}
			cm.Status, cm.EndReason, cm.ClearFile = StatusEnded, e.EndReason, true
		case KindRequestFailed:
			cm.Status, cm.EndReason, cm.ClearFile = StatusEnded, EndRequestFail, true
		}
		cm.Events = append(cm.Events, e)
	}
	return cm
}

// finish delivers what is left of an ended chat to the sinks, then lets the
// customer go. It reports false if the customer has a new chat to drive.
func (r *runner) finish(ch Chat) bool {
	b := r.b
	for _, d := range r.sinks {
		d.kick()
	}
	for _, d := range r.sinks {
		if !d.waitIdle(r.ctx) {
			return false
		}
	}
	if err := b.store.Deactivate(r.ctx, r.c); err != nil {
		sleep(r.ctx, b.opt.MaxBackoff)
		return false
	}
	now, err := b.store.Chat(r.ctx, r.c)
	if err != nil || now.ID != ch.ID || now.Status.Open() {
		// Reopened meanwhile: stay active and drive the new chat.
		_, _ = b.store.Renew(r.ctx, b.opt.Owner, []CustomerID{r.c}, b.opt.LeaseTTL)
		return false
	}
	// A sink may have been kicked by an event appended after the wait.
	for _, d := range r.sinks {
		if d.busy() {
			_, _ = b.store.Renew(r.ctx, b.opt.Owner, []CustomerID{r.c}, b.opt.LeaseTTL)
			return false
		}
	}
	return r.release()
}

func (r *runner) release() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = r.b.store.Deactivate(ctx, r.c)
	if err := r.b.store.Release(ctx, r.c, r.b.opt.Owner, false); err != nil {
		r.b.log.Warn("lease release failed", "customer", r.c, "err", err)
	}
	return true
}

// drainOutbox sends the customer's queued messages, in order, once an agent
// has accepted. It also notices a chat that ended elsewhere.
func (r *runner) drainOutbox(ctx context.Context) {
	b := r.b
	fails := 0
	o, ok, err := b.store.OutboxHead(ctx, r.c)
	for ctx.Err() == nil && err == nil && ok {
		ch, cerr := r.chat(ctx)
		if cerr != nil {
			return
		}
		r.checkPoll(ch)
		if ch.Status != StatusEstablished {
			return
		}
		sctx, cancel := context.WithTimeout(ctx, b.opt.DeskTimeout)
		err = b.desk.Send(sctx, ch.DeskState, o.Seq, o.Text)
		cancel()
		switch {
		case err == nil:
			fails = 0
			b.opt.Metrics.Sent.Inc()
			o, ok, err = b.store.OutboxDone(ctx, r.c, o)
		case errors.Is(err, ErrPermanent):
			b.log.ErrorContext(ctx, "desk refused a customer message; dropped", "customer", r.c, "message", o.ID, "err", err)
			o, ok, err = b.store.OutboxDone(ctx, r.c, o)
		case errors.Is(err, ErrSessionGone), errors.Is(err, ErrChatTerminated):
			return // the poll loop finds out and ends the chat
		case errors.Is(err, ErrNotEstablished):
			r.retryLater(r.outbox, time.Second)
			return
		default:
			fails++
			b.opt.Metrics.DeskErrors.WithLabelValues("send").Inc()
			b.log.WarnContext(ctx, "desk send failed", "customer", r.c, "attempt", fails, "err", err)
			if fails >= 5 {
				r.retryLater(r.outbox, b.opt.MaxBackoff)
				return
			}
			sleep(ctx, backoff(fails, b.opt.MaxBackoff))
			err = nil // retry the same message
		}
	}
}

func (r *runner) retryLater(d *drainer, after time.Duration) {
	time.AfterFunc(after, d.kick)
}

// drainSink delivers the customer's events to s from its cursor until it
// has caught up, retrying failures with backoff.
//
// A delivery is the accepted events of one batch (see Event.Batch), as many
// as s.Batch takes from its start, so a retry after a failure or a crash
// delivers the same events under the same Key however many events were
// appended since: no delivery plan has to be stored.
func (r *runner) drainSink(ctx context.Context, s Sink, pos *sinkPos) {
	b := r.b
	name := s.Name()
	_, idem := s.(EventIdempotent)
	fails := 0
	retry := func() {
		pos.known = false
		fails++
		sleep(ctx, backoff(fails, b.opt.SinkMaxBackoff))
	}
	for ctx.Err() == nil {
		var cur string
		var raw []Event
		var err error
		if pos.known {
			cur = pos.stored
			raw, err = b.store.Read(ctx, r.c, pos.scanned, pageSize)
		} else {
			cur, raw, err = b.store.Pending(ctx, r.c, name, pageSize)
			*pos = sinkPos{known: true, stored: cur, scanned: cur}
		}
		if err != nil {
			retry()
			continue
		}
		if len(raw) == 0 {
			return // caught up
		}
		var evs []Event
		for _, ev := range raw {
			if !s.Accepts(ev) {
				continue
			}
			if len(evs) > 0 && (ev.Batch == "" || ev.Batch != evs[0].Batch) {
				break
			}
			evs = append(evs, ev)
		}
		if len(evs) == 0 {
			// Nothing for this sink. Remember how far we looked; move the
			// stored cursor (a write) only now and then: a later delivery
			// moves it past these anyway.
			pos.scanned = raw[len(raw)-1].Cursor
			if len(raw) < pageSize {
				return
			}
			if ok, err := b.store.Advance(ctx, r.c, name, cur, pos.scanned); err != nil || !ok {
				retry()
				continue
			}
			pos.stored = pos.scanned
			continue
		}
		evs = evs[:min(max(s.Batch(evs), 1), len(evs))]
		to := evs[len(evs)-1].Cursor
		key := evs[0].ID
		if !idem {
			key = deliveryKey(name, evs[0].ID, evs[len(evs)-1].ID)
		}
		chat, err := r.chatFor(ctx, evs)
		if err != nil {
			retry()
			continue
		}
		err = s.Deliver(ctx, Delivery{
			Customer: r.c, Chat: chat, Events: evs, Key: key,
			Transcript: func(ctx context.Context, id ChatID) ([]Event, error) { return b.store.Transcript(ctx, r.c, id) },
		})
		if err != nil && !errors.Is(err, ErrPermanent) {
			if ctx.Err() != nil {
				return
			}
			b.log.WarnContext(ctx, "sink delivery failed", "sink", name, "customer", r.c, "attempt", fails+1, "err", err)
			retry()
			continue
		}
		if err != nil {
			b.log.ErrorContext(ctx, "sink refused events; dropped", "sink", name, "customer", r.c, "events", len(evs), "err", err)
		} else {
			now := b.opt.Now()
			for _, ev := range evs {
				b.opt.Metrics.RelayLatency.WithLabelValues(name).Observe(now.Sub(ev.Time).Seconds())
			}
			b.opt.Metrics.Relayed.WithLabelValues(name).Add(float64(len(evs)))
		}
		fails = 0
		// Delivered: record it even if we are stopping, so a graceful
		// restart does not deliver it again.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		moved, err := b.store.Advance(actx, r.c, name, cur, to)
		cancel()
		if err != nil || !moved {
			retry()
			continue
		}
		pos.stored, pos.scanned = to, to
		if to == raw[len(raw)-1].Cursor && len(raw) < pageSize {
			return // caught up; an event appended since kicked us again
		}
	}
}

// deliveryKey is a delivery's idempotency key: a UUID (version 8, from
// SHA-256) of the sink and the delivery's first and last event ids.
func deliveryKey(sink, first, last string) string {
	h := sha256.Sum256([]byte(sink + "\x00" + first + "\x00" + last))
	h[6] = h[6]&0x0f | 0x80
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// chatFor returns the chat record for a delivery of evs: the one the poll
// loop holds, unless the events changed it.
func (r *runner) chatFor(ctx context.Context, evs []Event) (Chat, error) {
	if slices.ContainsFunc(evs, changesChat) {
		return r.reloadChat(ctx)
	}
	return r.chat(ctx)
}

// chat returns the chat record as last read or written here (the poll loop
// keeps it current, and so do notifications of changes made elsewhere).
func (r *runner) chat(ctx context.Context) (Chat, error) {
	if ch := r.latest.Load(); ch != nil {
		return *ch, nil
	}
	return r.reloadChat(ctx)
}

func (r *runner) reloadChat(ctx context.Context) (Chat, error) {
	ch, err := r.b.store.Chat(ctx, r.c)
	if err != nil {
		return Chat{}, err
	}
	r.latest.Store(&ch)
	return ch, nil
}

// sinkPos remembers, on the owning instance, where a sink's cursor is
// (stored) and how far past it the drain has already looked without
// finding anything to deliver (scanned), so events a sink does not take are
// read once, not on every wake-up.
type sinkPos struct {
	known           bool
	stored, scanned string
}

// pageSize is how many log events a sink drain reads at a time.
const pageSize = 64

// changesChat reports whether ev's commit changed the chat record.
func changesChat(ev Event) bool {
	switch ev.Kind {
	case KindStarted, KindAgentJoined, KindTransferred, KindEnded, KindRequestFailed, KindFileRequested, KindFileResult:
		return true
	}
	return false
}

// drainer runs fn in a goroutine owned by the runner, at most one at a time;
// a kick while it runs makes it run once more.
type drainer struct {
	r  *runner
	fn func(context.Context)
	// pos is a sink drain's knowledge of its cursor between runs (runs
	// are serialized, so only one goroutine touches it at a time).
	pos     sinkPos
	mu      sync.Mutex
	running bool
	again   bool
	idle    chan struct{} // closed when not running
}

func (d *drainer) kick() {
	r := d.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		d.again = true
		return
	}
	d.running, d.again = true, false
	d.idle = make(chan struct{})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			d.fn(r.ctx)
			d.mu.Lock()
			if !d.again || r.ctx.Err() != nil {
				d.running = false
				close(d.idle)
				d.mu.Unlock()
				return
			}
			d.again = false
			d.mu.Unlock()
		}
	}()
}

func (d *drainer) busy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// waitIdle waits until the drainer is not running; false if ctx ended.
func (d *drainer) waitIdle(ctx context.Context) bool {
	d.mu.Lock()
	idle := d.idle
	running := d.running
	d.mu.Unlock()
	if !running || idle == nil {
		return ctx.Err() == nil
	}
	select {
	case <-idle:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}
