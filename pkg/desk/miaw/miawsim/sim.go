package miawsim

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Errors of the agent-side methods (and of the control API, as 404, 409 and 400).
var (
	// ErrNoConversation: no conversation has this id.
	ErrNoConversation = errors.New("miawsim: no such conversation")
	// ErrState: the conversation's state does not allow the action.
	ErrState = errors.New("miawsim: action not allowed in the conversation's state")
	// ErrInvalid: an argument is invalid.
	ErrInvalid = errors.New("miawsim: invalid argument")
	// ErrClosed is returned by waits on a closed simulator.
	ErrClosed = errors.New("miawsim: simulator closed")
)

// Sim is a MIAW simulator. Create it with [New], serve it as an http.Handler, and call
// [Sim.Close] when done (before closing the HTTP server, so event streams end at once).
type Sim struct {
	opts   Options
	mux    *http.ServeMux
	secret []byte // signs access tokens

	mu            sync.Mutex
	convs         map[string]*conversation
	order         []string // conversation ids, oldest first
	tokenLifetime time.Duration
	heartbeat     time.Duration
	autoAccept    time.Duration
	autoReply     bool
	epoch         int // access tokens of older epochs are expired
	faults        []*Fault
	nextEventID   int64
	recent        map[string][]sseMsg // per end-user subject, for replays
	replay        map[string]int      // per subject: events to replay on the next connection
	streams       map[*stream]struct{}
	stats         Stats
	version       uint64
	changed       chan struct{}
	subs          map[chan ctlEvent]struct{} // /control/events

	kick      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New returns a running simulator. Its background goroutine (auto-accept) stops in Close.
func New(opts Options) *Sim {
	opts = opts.withDefaults()
	s := &Sim{
		opts:          opts,
		secret:        []byte(rand.Text()),
		convs:         make(map[string]*conversation),
		tokenLifetime: opts.TokenLifetime,
		heartbeat:     opts.HeartbeatInterval,
		autoAccept:    opts.AutoAccept,
		autoReply:     opts.AutoReply,
		nextEventID:   2147867800,
		recent:        make(map[string][]sseMsg),
		replay:        make(map[string]int),
		streams:       make(map[*stream]struct{}),
		changed:       make(chan struct{}),
		subs:          make(map[chan ctlEvent]struct{}),
		kick:          make(chan struct{}, 1),
		done:          make(chan struct{}),
	}
	s.routes()
	s.wg.Add(1)
	go s.scheduler()
	return s
}

// Close stops the background goroutine, ends the event streams and waits. Requests arriving
// afterwards are answered 503. Close is idempotent.
func (s *Sim) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	s.wg.Wait()
	return nil
}

func (s *Sim) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.closed() {
		http.Error(w, "simulator closed", http.StatusServiceUnavailable)
		return
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Sim) routes() {
	m := http.NewServeMux()
	const auth = "/iamessage/api/v2/authorization/"
	const conv = "/iamessage/api/v2/conversation"
	m.HandleFunc("POST "+auth+"unauthenticated/access-token", s.handleUnauthToken)
	m.HandleFunc("POST "+auth+"authenticated/access-token", s.handleAuthToken)
	m.HandleFunc("GET "+auth+"continuation-access-token", s.handleContinuation)
	m.HandleFunc("POST "+conv, s.handleCreate)
	m.HandleFunc("POST "+conv+"/{id}/message", s.handleMessage)
	m.HandleFunc("POST "+conv+"/{id}/entry", s.handleEntry)
	m.HandleFunc("GET "+conv+"/{id}/entries", s.handleEntries)
	m.HandleFunc("DELETE "+conv+"/{id}", s.handleClose)
	m.HandleFunc("DELETE "+conv+"/{id}/session", s.handleEndSession)
	m.HandleFunc("GET /eventrouter/v1/sse", s.handleSSE)
	s.controlRoutes(m)
	s.mux = m
}

// scheduler runs auto-accepts.
func (s *Sim) scheduler() {
	defer s.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		s.mu.Lock()
		next := s.tick()
		s.mu.Unlock()
		t.Reset(next)
		select {
		case <-s.done:
			s.mu.Lock()
			for st := range s.streams {
				st.drop()
			}
			s.mu.Unlock()
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

func (s *Sim) wakeScheduler() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// tick runs due auto-accepts and returns the delay until the next. Called with s.mu held.
func (s *Sim) tick() time.Duration {
	now := s.opts.Now()
	next := time.Hour
	for _, id := range slices.Clone(s.order) {
		c := s.convs[id]
		if c == nil || c.autoAcceptAt.IsZero() {
			continue
		}
		if !now.Before(c.autoAcceptAt) {
			c.autoAcceptAt = time.Time{}
			if c.state == StateQueued && s.accept(c, "") == nil {
				s.notify(EventUpdated, c, "")
			}
		} else if d := c.autoAcceptAt.Sub(now); d < next {
			next = d
		}
	}
	return max(next, 2*time.Millisecond)
}

// apiError answers a customer API error with a JSON body {"message": …}.
func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
