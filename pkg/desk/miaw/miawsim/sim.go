package miawsim

import (
	"crypto/rand"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
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
	opts     Options
	handler  http.Handler // the routes, behind the lifecycle's guard
	secret   []byte       // signs access tokens
	convsAPI simkit.Resource[ConversationView]
	faults   *simkit.FaultQueue[Fault]
	life     *simkit.Lifecycle
	changes  simkit.Changes // notified on every change
	hub      simkit.Hub     // /control/events

	mu            sync.Mutex
	convs         map[string]*conversation
	order         []string // conversation ids, oldest first
	tokenLifetime time.Duration
	heartbeat     time.Duration
	autoAccept    time.Duration
	autoReply     bool
	epoch         int // access tokens of older epochs are expired
	nextEventID   int64
	recent        map[string][]sseMsg // per end-user subject, for replays
	replay        map[string]int      // per subject: events to replay on the next connection
	streams       map[*stream]struct{}
	stats         Stats
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
		faults:        newFaultQueue(),
		life:          simkit.NewLifecycle(ErrClosed),
	}
	s.convsAPI = simkit.Resource[ConversationView]{API: api, Get: s.Conversation}
	s.routes()
	s.life.Go(func() {
		s.life.Schedule(s.lockedTick)
		// Closed: end the end users' event streams.
		s.mu.Lock()
		for st := range s.streams {
			st.drop()
		}
		s.mu.Unlock()
	})
	return s
}

// Close stops the background goroutine, ends the event streams and waits. Requests arriving
// afterwards are answered 503. Close is idempotent.
func (s *Sim) Close() error {
	s.hub.Close()
	s.life.Close()
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

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
	s.handler = s.life.Guard(m)
}

// lockedTick is the scheduler's tick: it runs auto-accepts.
func (s *Sim) lockedTick() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tick()
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
	simkit.WriteJSON(w, status, map[string]string{"message": msg})
}
