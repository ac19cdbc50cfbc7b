package line

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/line/line-bot-sdk-go/v8/linebot/webhook"

	"github.com/line-sf-bridge/bridge/pkg/bridge"
)

// Bridge is what the Webhook needs of the core; *bridge.Bridge satisfies it.
type Bridge interface {
	// Chat returns the customer's current (or last) chat, or bridge.ErrNoChat.
	Chat(ctx context.Context, c bridge.CustomerID) (bridge.Chat, error)
	// Open starts a chat for v, or returns the open one (created=false).
	// Errors wrap bridge.ErrStartFailed.
	Open(ctx context.Context, v bridge.Visitor) (ch bridge.Chat, created bool, err error)
	// Send relays a customer message or note to the open chat;
	// bridge.ErrChatClosed or bridge.ErrNoChat when there is none.
	Send(ctx context.Context, c bridge.CustomerID, ev bridge.Event) error
	// Close ends the customer's open chat.
	Close(ctx context.Context, c bridge.CustomerID, reason bridge.EndReason) error
	// Upload hands a file the agent asked for to the desk;
	// bridge.ErrNoFileRequested when the agent asked for none.
	Upload(ctx context.Context, c bridge.CustomerID, name, contentType string, r io.Reader) error
}

// Store is what the Webhook needs of the state store; the Redis store
// satisfies it.
type Store interface {
	// Once reports whether key was not seen within ttl, and records it.
	Once(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Remember appends a line to the customer's recent conversation (at most
	// max lines are kept); Recall returns it, oldest first.
	Remember(ctx context.Context, c bridge.CustomerID, line string, max int) error
	Recall(ctx context.Context, c bridge.CustomerID) ([]string, error)
}

// DedupTTL is how long a webhookEventId is remembered (LINE redelivers
// within this window).
const DedupTTL = 24 * time.Hour

// enqueueWait bounds how long a request waits for room in a full queue, to
// stay within LINE's 2-second answer budget.
const enqueueWait = time.Second

// Webhook is the http.Handler for POST /line/webhook.
//
// ServeHTTP only reads, verifies and parses the request, hands the events to
// a bounded set of worker goroutines and answers 200 at once, well within
// LINE's 2-second budget. Events of one source (user, group, room) always go
// to the same worker, so they are handled in order. Close stops the workers.
//
// Each event is handled once (webhookEventId, via Store.Once, for 24 h).
// Only one-to-one user events are relayed; events the bridge does not
// consume are forwarded to Config.ForwardURL (see forward.go) or dropped.
type Webhook struct {
	cfg     Config
	b       Bridge
	st      Store
	c       *client // nil without a channel token
	notices *Notices
	log     *slog.Logger
	fwd     *forwarder

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	shards []chan job
	wg     sync.WaitGroup

	mu     sync.RWMutex // guards closed against sends on closed shards
	closed bool
}

// job is a run of events of one source, from one webhook request.
type job struct {
	destination string
	contentType string
	userAgent   string
	events      []inbound
}

// inbound is one webhook event: its raw JSON (forwarded byte for byte), the
// fields every event type has, and the SDK's typed event.
type inbound struct {
	raw  json.RawMessage
	head eventHead
	ev   webhook.EventInterface
}

type eventHead struct {
	Type           string `json:"type"`
	WebhookEventID string `json:"webhookEventId"`
	Mode           string `json:"mode"`
	Source         struct {
		Type    string `json:"type"`
		UserID  string `json:"userId"`
		GroupID string `json:"groupId"`
		RoomID  string `json:"roomId"`
	} `json:"source"`
	DeliveryContext struct {
		IsRedelivery bool `json:"isRedelivery"`
	} `json:"deliveryContext"`
}

// sourceKey orders events: one key per conversation.
func (h eventHead) sourceKey() string {
	switch {
	case h.Source.GroupID != "":
		return "g:" + h.Source.GroupID
	case h.Source.RoomID != "":
		return "r:" + h.Source.RoomID
	}
	return "u:" + h.Source.UserID
}

// NewWebhook returns a Webhook and starts its workers; call Close to stop
// them. cfg needs ChannelSecret; without ChannelToken the webhook cannot
// reply, read profiles or download files. log may be nil.
func NewWebhook(cfg Config, b Bridge, st Store, log *slog.Logger) (*Webhook, error) {
	cfg = cfg.WithDefaults()
	if cfg.ChannelSecret == "" {
		return nil, errors.New("line: webhook: channel secret missing")
	}
	if b == nil || st == nil {
		return nil, errors.New("line: webhook: bridge and store are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n, err := DefaultNotices()
	if err != nil {
		return nil, err
	}
	w := &Webhook{cfg: cfg, b: b, st: st, notices: n, log: orDiscard(log)}
	if cfg.ChannelToken != "" {
		w.c = newClient(cfg, nil)
	}
	if cfg.ForwardURL != "" {
		w.fwd = newForwarder(cfg, w.log)
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	per := max(1, cfg.QueueSize/cfg.Workers)
	w.shards = make([]chan job, cfg.Workers)
	for i := range w.shards {
		ch := make(chan job, per)
		w.shards[i] = ch
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := range ch {
				w.process(j)
			}
		}()
	}
	return w, nil
}

// Close stops accepting requests (they get 503), lets the workers finish
// the queued events and waits for them. If ctx ends first, the work in
// progress is cancelled and Close returns ctx's error once the workers
// have stopped (every call they make honours that cancellation).
func (w *Webhook) Close(ctx context.Context) error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		for _, ch := range w.shards {
			close(ch)
		}
	}
	w.mu.Unlock()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	select {
	case <-done:
		w.cancel()
		return nil
	case <-ctx.Done():
		w.cancel()
		<-done
		return ctx.Err()
	}
}

// ServeHTTP implements http.Handler.
func (w *Webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		writeError(rw, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(rw, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
			return
		}
		writeError(rw, http.StatusBadRequest, "invalid_request", "cannot read request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	cb, err := webhook.ParseRequest(w.cfg.ChannelSecret, r)
	if errors.Is(err, webhook.ErrInvalidSignature) {
		w.log.WarnContext(r.Context(), "line webhook signature invalid", "remote", r.RemoteAddr)
		writeError(rw, http.StatusBadRequest, "invalid_signature", "missing or invalid X-Line-Signature")
		return
	}
	var env struct {
		Destination string            `json:"destination"`
		Events      []json.RawMessage `json:"events"`
	}
	if err == nil {
		err = json.Unmarshal(body, &env)
	}
	if err == nil && len(env.Events) != len(cb.Events) {
		err = errors.New("event count mismatch")
	}
	if err != nil {
		w.log.WarnContext(r.Context(), "line webhook body invalid", "error", err)
		writeError(rw, http.StatusBadRequest, "invalid_request", "invalid webhook body")
		return
	}
	if len(env.Events) == 0 { // URL verification
		writeOK(rw)
		return
	}

	jobs := make(map[int]*job)
	var order []int
	for i, raw := range env.Events {
		in := inbound{raw: raw, ev: cb.Events[i]}
		if err := json.Unmarshal(raw, &in.head); err != nil {
			writeError(rw, http.StatusBadRequest, "invalid_request", "invalid webhook event")
			return
		}
		s := w.shard(in.head.sourceKey())
		j, ok := jobs[s]
		if !ok {
			j = &job{destination: env.Destination, contentType: r.Header.Get("Content-Type"), userAgent: r.Header.Get("User-Agent")}
			jobs[s] = j
			order = append(order, s)
		}
		j.events = append(j.events, in)
	}
	if !w.enqueue(r.Context(), jobs, order) {
		// Events already queued are handled; LINE's redelivery (if on)
		// brings the rest, and Once drops what was handled.
		writeError(rw, http.StatusServiceUnavailable, "unavailable", "webhook busy or shutting down")
		return
	}
	writeOK(rw)
}

func (w *Webhook) shard(key string) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(w.shards)))
}

// enqueue hands the jobs to their workers, waiting at most enqueueWait in
// all for room. It reports false if a job could not be queued.
func (w *Webhook) enqueue(ctx context.Context, jobs map[int]*job, order []int) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return false
	}
	t := time.NewTimer(enqueueWait)
	defer t.Stop()
	for _, s := range order {
		select {
		case w.shards[s] <- *jobs[s]:
		case <-t.C:
			w.log.WarnContext(ctx, "line webhook queue full")
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// process handles a job's events in order, then forwards the ones the
// bridge did not consume.
func (w *Webhook) process(j job) {
	var rest []json.RawMessage
	for _, in := range j.events {
		if w.safeHandle(in) {
			rest = append(rest, in.raw)
		}
	}
	if len(rest) == 0 {
		return
	}
	if w.fwd == nil {
		w.log.Debug("line events dropped (no forward url)", "events", len(rest))
		return
	}
	w.fwd.forward(w.ctx, j, rest)
}

// safeHandle handles one event under its own deadline; a panic is logged
// and the event dropped, so the worker lives on.
func (w *Webhook) safeHandle(in inbound) (forward bool) {
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.EventTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			w.log.ErrorContext(ctx, "line event handler panicked", "event_id", in.head.WebhookEventID, "panic", p)
			forward = false
		}
	}()
	return w.handle(ctx, in)
}

func writeOK(rw http.ResponseWriter) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write([]byte("{}"))
}

func writeError(rw http.ResponseWriter, status int, code, msg string) {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	body.Error.Code, body.Error.Message = code, msg
	b, _ := json.Marshal(body)
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_, _ = rw.Write(b)
}
