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
	opts   Options
	mux    *http.ServeMux
	secret []byte // signs session keys

	mu          sync.Mutex
	chats       map[string]*chat // by id
	byKey       map[string]*chat // by session key
	order       []string         // chat ids, oldest first
	fileTokens  map[string]*chat
	holdTime    time.Duration
	pollTimeout time.Duration
	online      map[string]bool // per button id; "" is the default for other buttons
	faults      []*Fault
	requests    []RequestRecord // ring of recent chat REST requests
	version     uint64          // bumped on every change
	changed     chan struct{}   // closed and replaced on every change
	subs        map[chan sseEvent]struct{}

	kick      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
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
		changed:     make(chan struct{}),
		subs:        make(map[chan sseEvent]struct{}),
		kick:        make(chan struct{}, 1),
		done:        make(chan struct{}),
	}
	s.routes()
	s.wg.Add(1)
	go s.scheduler()
	return s
}

// Close stops the background goroutine, releases holding polls and event streams, and waits.
// Requests arriving afterwards are answered 503. Close is idempotent.
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
	s.mux = m
}

// scheduler expires sessions that are not polled and runs auto-accepts.
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
