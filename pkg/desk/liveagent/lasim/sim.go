package lasim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// Errors of the agent-side methods (and of the control API, as 404 and 409).
var (
	// ErrNoChat: no chat has this id.
	ErrNoChat = errors.New("lasim: no such chat")
	// ErrState: the chat is not in a state that allows the action (e.g. accepting an ended chat).
	ErrState = errors.New("lasim: action not allowed in the chat's state")
	// ErrInvalid: an argument is invalid (e.g. an unknown fault kind).
	ErrInvalid = errors.New("lasim: invalid argument")
)

// Sim is a Live Agent simulator. Create it with [New], serve it as an http.Handler, and call
// [Sim.Close] when done (before closing the HTTP server, so holding polls return at once).
type Sim struct {
	opts     Options
	handler  http.Handler // the routes, behind the lifecycle's guard
	secret   []byte       // signs session keys
	chatsAPI simkit.Resource[ChatView]
	faults   *simkit.FaultQueue[Fault]
	life     *simkit.Lifecycle
	changes  simkit.Changes // notified on every change
	hub      simkit.Hub     // /control/events

	mu          sync.Mutex
	chats       map[string]*chat // by id
	byKey       map[string]*chat // by session key
	order       []string         // chat ids, oldest first
	fileTokens  map[string]*chat
	holdTime    time.Duration
	pollTimeout time.Duration
	online      map[string]bool // per button id; "" is the default for other buttons
	requests    []RequestRecord // ring of recent chat REST requests
}

// New returns a running simulator. Its background goroutine (expiry and auto-accept) stops in
// [Sim.Close].
func New(opts Options) *Sim {
	opts = opts.withDefaults()
	s := &Sim{
		opts:        opts,
		secret:      []byte(rand.Text()),
		chats:       make(map[string]*chat),
		byKey:       make(map[string]*chat),
		fileTokens:  make(map[string]*chat),
		holdTime:    opts.HoldTime,
		pollTimeout: opts.ClientPollTimeout,
		online:      map[string]bool{"": true},
		faults:      newFaultQueue(),
		life:        simkit.NewLifecycle(ErrClosed),
	}
	s.chatsAPI = simkit.Resource[ChatView]{API: api, Get: s.Chat}
	s.routes()
	s.life.Go(func() { s.life.Schedule(s.lockedTick) })
	return s
}

// Close stops the background goroutine, releases holding polls and event streams, and waits.
// Requests arriving afterwards are answered 503. Close is idempotent.
func (s *Sim) Close() error {
	s.hub.Close()
	s.life.Close()
	return nil
}

// ServeHTTP implements http.Handler.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Sim) routes() {
	m := http.NewServeMux()
	rest := func(pattern, kind string, h http.HandlerFunc) {
		m.Handle(pattern, s.recorded(kind, h))
	}
	rest("GET /chat/rest/System/SessionId", "sessionId", s.handleSessionID)
	rest("DELETE /chat/rest/System/SessionId/{key}", "deleteSession", s.handleDeleteSession)
	rest("GET /chat/rest/System/Messages", "messages", s.handleMessages)
	rest("GET /chat/rest/System/ReconnectSession", "reconnectSession", s.handleReconnect)
	rest("POST /chat/rest/System/MultiNoun", "multiNoun", s.handleMultiNoun)
	rest("POST /chat/rest/Chasitor/{noun}", "", s.handleChasitor)
	rest("GET /chat/rest/Visitor/Availability", "availability", s.handleAvailability)
	rest("POST "+uploadPath, "upload", s.handleUpload)
	s.controlRoutes(m)
	s.handler = s.life.Guard(m)
}

// lockedTick is the scheduler's tick: it expires sessions that are not polled and runs
// auto-accepts.
func (s *Sim) lockedTick() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tick()
}

// tick runs due work and returns the delay until the next check. Called with s.mu held.
func (s *Sim) tick() time.Duration {
	now := s.opts.Now()
	next := time.Second
	for _, id := range slices.Clone(s.order) {
		c := s.chats[id]
		if c == nil {
			continue
		}
		if d := s.checkExpiry(c, now); d > 0 && d < next {
			next = d
		}
		if !c.autoAcceptAt.IsZero() {
			if !now.Before(c.autoAcceptAt) {
				c.autoAcceptAt = time.Time{}
				if c.state == StateQueued {
					_ = s.accept(c, "")
				}
			} else if d := c.autoAcceptAt.Sub(now); d < next {
				next = d
			}
		}
	}
	return max(next, 2*time.Millisecond)
}

// sessionKey builds "<id>!<epoch-ms>!<base64 sig>" like the real keys.
func (s *Sim) sessionKey(id string, now time.Time) string {
	body := id + "!" + strconv.FormatInt(now.UnixMilli(), 10)
	mac := hmac.New(sha1.New, s.secret)
	mac.Write([]byte(body))
	return body + "!" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
