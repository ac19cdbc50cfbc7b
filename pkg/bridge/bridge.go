package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Options tune a Bridge. Zero values take the defaults.
type Options struct {
	// Owner identifies this instance in leases (default: a random id).
	Owner string
	// LeaseTTL is how long a lease lasts without renewal (default 10s). An
	// instance that dies is replaced within about LeaseTTL + ScanInterval.
	LeaseTTL time.Duration
	// ScanInterval is how often the supervisor looks for orphaned chats
	// (default 1s).
	ScanInterval time.Duration
	// StartTimeout bounds a chat stuck in Starting because its instance
	// died mid-start (default 30s).
	StartTimeout time.Duration
	// DeskTimeout bounds Start, Send and End calls (default 15s).
	DeskTimeout time.Duration
	// MaxBackoff caps retry delays of polls and sends (default 5s) and
	// SinkMaxBackoff those of sink deliveries (default 1m).
	MaxBackoff     time.Duration
	SinkMaxBackoff time.Duration
	// HistoryHeader starts the message that carries the customer's recent
	// conversation to the agent (default "--- 直前の会話 ---").
	HistoryHeader string
	Logger        *slog.Logger
	Metrics       *Metrics
	Now           func() time.Time
}

func (o *Options) defaults() {
	if o.Owner == "" {
		o.Owner = NewID()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Second
	}
	if o.ScanInterval <= 0 {
		o.ScanInterval = time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.DeskTimeout <= 0 {
		o.DeskTimeout = 15 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.SinkMaxBackoff <= 0 {
		o.SinkMaxBackoff = time.Minute
	}
	if o.HistoryHeader == "" {
		o.HistoryHeader = "--- 直前の会話 ---"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Bridge is the core service: it opens and closes chats, relays customer
// messages to the desk, and (in Run) drives every chat it owns.
type Bridge struct {
	store Store
	desk  Desk
	sinks []Sink
	opt   Options
	log   *slog.Logger
	hub   *hub

	chatsMu sync.Mutex
	chats   map[CustomerID]ChatID // chat ids seen here, to send in one round trip

	base    context.Context // lives until Run returns
	stop    context.CancelFunc
	mu      sync.Mutex
	runners map[CustomerID]*runner
	stopped bool
	wg      sync.WaitGroup
}

// New returns a Bridge. Call Run to drive chats; the request methods (Open,
// Send, Close, Next) work from any instance.
func New(store Store, desk Desk, sinks []Sink, opt Options) *Bridge {
	opt.defaults()
	base, stop := context.WithCancel(context.Background())
	return &Bridge{
		store: store, desk: desk, sinks: sinks, opt: opt, log: opt.Logger, hub: newHub(),
		base: base, stop: stop, runners: make(map[CustomerID]*runner), chats: make(map[CustomerID]ChatID),
	}
}

// Owner is this instance's lease identity.
func (b *Bridge) Owner() string { return b.opt.Owner }

// Chat returns the customer's current chat, or ErrNoChat.
func (b *Bridge) Chat(ctx context.Context, c CustomerID) (Chat, error) {
	return b.store.Chat(ctx, c)
}

// Open starts a chat for v, or returns the customer's open chat with created
// false. It returns as soon as the desk accepted the request; it does not
// wait for an agent. A desk failure ends the new chat and wraps
// ErrStartFailed.
func (b *Bridge) Open(ctx context.Context, v Visitor) (Chat, bool, error) {
	c := v.CustomerID
	ch, err := b.store.BeginChat(ctx, Chat{
		Customer: c, ID: ChatID(NewID()), Desk: b.desk.Kind(), Visitor: v, CreatedAt: b.opt.Now(),
	})
	if errors.Is(err, ErrChatOpen) {
		return ch, false, nil
	}
	if err != nil {
		return Chat{}, false, err
	}
	b.adopt(c)
	seq, err := b.store.NextSeq(ctx, c)
	if err != nil {
		return ch, true, b.failStart(ctx, ch, err)
	}
	sctx, cancel := context.WithTimeout(ctx, b.opt.DeskTimeout)
	state, err := b.desk.Start(sctx, v, seq)
	cancel()
	if err != nil {
		b.opt.Metrics.DeskErrors.WithLabelValues("start").Inc()
		return ch, true, b.failStart(ctx, ch, err)
	}
	vis := v
	ch, err = b.store.Commit(ctx, c, Commit{
		Chat: ch.ID, DeskSeq: -1, Status: StatusRequested, DeskState: state, Notify: ChangedAll,
		Events: []Event{{ID: string(ch.ID) + ".start", Batch: string(ch.ID) + ".start", Chat: ch.ID, Kind: KindStarted, Time: b.opt.Now(), Visitor: &vis}},
	})
	if err != nil {
		return ch, true, fmt.Errorf("bridge: open: %w", err)
	}
	b.rememberChat(c, ch.ID)
	if len(v.History) > 0 {
		text := b.opt.HistoryHeader + "\n" + strings.Join(v.History, "\n")
		ev := Event{ID: string(ch.ID) + ".history", Kind: KindCustomerNote, Text: text, Source: "history"}
		if _, err := b.send(ctx, c, ch.ID, ev); err != nil {
			b.log.WarnContext(ctx, "history not queued", "customer", c, "err", err)
		}
	}
	b.changed(c, ChangedAll)
	return ch, true, nil
}

func (b *Bridge) failStart(ctx context.Context, ch Chat, cause error) error {
	_, err := b.store.Commit(ctx, ch.Customer, Commit{
		Chat: ch.ID, DeskSeq: -1, Status: StatusEnded, EndReason: EndStartFailed, Notify: ChangedChat | ChangedLog,
		Events: []Event{{ID: string(ch.ID) + ".end", Batch: string(ch.ID) + ".end", Chat: ch.ID, Kind: KindEnded, Time: b.opt.Now(),
			EndReason: EndStartFailed, Reason: "start_failed"}},
	})
	if err != nil {
		b.log.ErrorContext(ctx, "failed chat not recorded", "customer", ch.Customer, "err", err)
	}
	b.changed(ch.Customer, ChangedChat|ChangedLog)
	return fmt.Errorf("%w: %w", ErrStartFailed, cause)
}

// Send queues a customer's message (ev.Kind KindCustomerMessage or
// KindCustomerNote, ev.Text) for the agent. It returns once the message is
// stored; the instance that owns the chat delivers it, in order, as soon as
// an agent has accepted. ErrNoChat or ErrChatClosed when no chat is open.
func (b *Bridge) Send(ctx context.Context, c CustomerID, ev Event) error {
	if ev.Kind == "" {
		ev.Kind = KindCustomerMessage
	}
	// One round trip in the common case: the chat id comes from the cache
	// and the store checks it; a stale id costs one reload.
	id, known := b.knownChat(c)
	for range 2 {
		if !known {
			ch, err := b.store.Chat(ctx, c)
			if err != nil {
				return err
			}
			if !ch.Status.Open() {
				return ErrChatClosed
			}
			id = ch.ID
			b.rememberChat(c, id)
		}
		sent, err := b.send(ctx, c, id, ev)
		if errors.Is(err, ErrStale) {
			known = false
			continue
		}
		if err != nil {
			return err
		}
		b.changedWith(c, ChangedOutbox|ChangedLog, []Event{sent})
		return nil
	}
	return ErrChatClosed
}

// send enqueues ev for chat id (the store notifies every instance) and
// returns it as stored.
func (b *Bridge) send(ctx context.Context, c CustomerID, id ChatID, ev Event) (Event, error) {
	if ev.ID == "" {
		ev.ID = string(id) + ".c" + NewID()
	}
	ev.Chat, ev.Batch = id, ev.ID
	if ev.Time.IsZero() {
		ev.Time = b.opt.Now()
	}
	_, err := b.store.Enqueue(ctx, c, id, ev)
	return ev, err
}

// maxKnownChats bounds the chat id cache; past it the cache starts over.
const maxKnownChats = 100_000

func (b *Bridge) knownChat(c CustomerID) (ChatID, bool) {
	b.chatsMu.Lock()
	defer b.chatsMu.Unlock()
	id, ok := b.chats[c]
	return id, ok
}

func (b *Bridge) rememberChat(c CustomerID, id ChatID) {
	b.chatsMu.Lock()
	defer b.chatsMu.Unlock()
	if len(b.chats) >= maxKnownChats {
		clear(b.chats)
	}
	b.chats[c] = id
}

// Close ends the customer's open chat: at the desk (best effort, bounded by
// DeskTimeout) and in the store, with an ended event for every consumer.
// Closing a chat that is not open is a no-op; ErrNoChat if there never was one.
func (b *Bridge) Close(ctx context.Context, c CustomerID, reason EndReason) error {
	ch, err := b.store.Chat(ctx, c)
	if err != nil {
		return err
	}
	if !ch.Status.Open() {
		return nil
	}
	// Record the end first, so the poll that the desk's ChatEnd cuts short
	// (403) cannot report the chat as expired.
	if err := b.end(ctx, ch, "", reason, ""); err != nil {
		return err
	}
	if ch.DeskState == nil {
		return nil
	}
	seq, err := b.store.NextSeq(ctx, c)
	if err != nil {
		return nil // ended here; the desk session times out by itself
	}
	ectx, cancel := context.WithTimeout(ctx, b.opt.DeskTimeout)
	defer cancel()
	if err := b.desk.End(ectx, ch.DeskState, seq); err != nil && !errors.Is(err, ErrSessionGone) {
		b.opt.Metrics.DeskErrors.WithLabelValues("end").Inc()
		b.log.WarnContext(ctx, "desk end failed", "customer", c, "err", err)
	}
	return nil
}

// end records the end of chat ch (once: an ended chat stays as it ended).
func (b *Bridge) end(ctx context.Context, ch Chat, owner string, reason EndReason, detail string) error {
	_, err := b.store.Commit(ctx, ch.Customer, Commit{
		Chat: ch.ID, Owner: owner, DeskSeq: -1, Status: StatusEnded, EndReason: reason, ClearFile: true,
		Notify: ChangedChat | ChangedLog,
		Events: []Event{{ID: string(ch.ID) + ".end", Batch: string(ch.ID) + ".end", Chat: ch.ID, Kind: KindEnded, Time: b.opt.Now(),
			EndReason: reason, Reason: detail}},
	})
	if err != nil {
		return fmt.Errorf("bridge: end chat: %w", err)
	}
	b.changed(ch.Customer, ChangedChat|ChangedLog)
	return nil
}

// Upload hands a file the agent asked for to the desk.
func (b *Bridge) Upload(ctx context.Context, c CustomerID, name, contentType string, r io.Reader) error {
	ch, err := b.store.Chat(ctx, c)
	if err != nil {
		return err
	}
	fu, ok := b.desk.(FileUploader)
	if !ok || ch.FileRequest == nil || !ch.Status.Open() {
		return ErrNoFileRequested
	}
	uctx, cancel := context.WithTimeout(ctx, 2*b.opt.DeskTimeout)
	defer cancel()
	if err := fu.Upload(uctx, ch.DeskState, *ch.FileRequest, name, contentType, r); err != nil {
		b.opt.Metrics.DeskErrors.WithLabelValues("upload").Inc()
		return fmt.Errorf("bridge: upload: %w", err)
	}
	fid := string(ch.ID) + ".f" + NewID()
	_, err = b.store.Commit(ctx, c, Commit{Chat: ch.ID, DeskSeq: -1, ClearFile: true, Notify: ChangedChat | ChangedLog, Events: []Event{{
		ID: fid, Batch: fid, Chat: ch.ID, Kind: KindCustomerNote, Time: b.opt.Now(),
		Text: "[file: " + name + "]", Source: "upload",
	}}})
	if err != nil {
		return fmt.Errorf("bridge: upload: %w", err)
	}
	b.changed(c, ChangedChat|ChangedLog)
	return nil
}

// Next takes the next event accepted by accept from the customer's pull
// cursor (the one /messages uses), waiting up to wait for one. Events that
// accept rejects are passed over. Each event is taken once, whatever the
// number of concurrent callers.
func (b *Bridge) Next(ctx context.Context, c CustomerID, wait time.Duration, accept func(Event) bool) (Event, bool, error) {
	const consumer = "pull"
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		woke, stop := b.hub.watch(c)
		ev, ok, progressed, err := b.take(ctx, c, consumer, accept)
		if err != nil || ok {
			stop()
			return ev, ok, err
		}
		if progressed {
			stop()
			continue
		}
		select {
		case <-woke:
			stop()
		case <-timer.C:
			stop()
			return Event{}, false, nil
		case <-ctx.Done():
			stop()
			return Event{}, false, ctx.Err()
		}
	}
}

func (b *Bridge) take(ctx context.Context, c CustomerID, consumer string, accept func(Event) bool) (Event, bool, bool, error) {
	cur, evs, err := b.store.Pending(ctx, c, consumer, 32)
	if err != nil || len(evs) == 0 {
		return Event{}, false, false, err
	}
	// Take the first accepted event; the ones before it are passed over
	// in the same write.
	for _, ev := range evs {
		if !accept(ev) {
			continue
		}
		moved, err := b.store.Advance(ctx, c, consumer, cur, ev.Cursor)
		if err != nil {
			return Event{}, false, false, err
		}
		return ev, moved, true, nil // !moved: another caller took it; start over
	}
	_, err = b.store.Advance(ctx, c, consumer, cur, evs[len(evs)-1].Cursor)
	return Event{}, false, true, err
}

// Active returns the chats of up to limit active customers (open, or ended
// with deliveries still in flight).
func (b *Bridge) Active(ctx context.Context, limit int) ([]Chat, error) {
	cs, err := b.store.Active(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]Chat, 0, len(cs))
	for _, c := range cs {
		ch, err := b.store.Chat(ctx, c)
		if errors.Is(err, ErrNoChat) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	return out, nil
}

// Transcript returns the events of chat id still in the customer's log.
func (b *Bridge) Transcript(ctx context.Context, c CustomerID, id ChatID) ([]Event, error) {
	return b.store.Transcript(ctx, c, id)
}
