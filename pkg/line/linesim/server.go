// Package linesim is a fake LINE Platform for tests, the demo and
// benchmarks: an http.Handler (mount it with httptest.NewServer) that serves
// the Messaging API endpoints the bridge uses, validates requests the way
// LINE does, records everything it receives, and injects failures on demand.
//
// Point both LINE_API_BASE_URL and LINE_DATA_API_BASE_URL at the same
// server. Supported:
//
//	POST /v2/bot/message/push              Bearer token, 1–5 messages, text ≤ 5000 UTF-16 units,
//	                                       X-Line-Retry-Key (a repeated accepted key → 409)
//	POST /v2/bot/message/reply             reply tokens issued by Issue; single use
//	GET  /v2/bot/profile/{userId}          profiles set by SetProfile
//	POST /v2/bot/chat/loading/start        loadingSeconds 5–60, multiple of 5
//	POST /v2/bot/chat/markAsRead           markAsReadToken
//	GET  /v2/bot/message/{id}/content      bytes set by SetContent
//
// The package also builds signed webhook requests (SignedRequest) from
// events (Text, Sticker, Image, Postback, Follow …). It imports nothing of
// the bridge, so any package's tests can use it.
package linesim

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Endpoint names an API endpoint, for failure injection and call records.
type Endpoint string

// Endpoints.
const (
	Push       Endpoint = "push"
	Reply      Endpoint = "reply"
	Profile    Endpoint = "profile"
	Loading    Endpoint = "loading"
	MarkAsRead Endpoint = "markAsRead"
	Content    Endpoint = "content"
)

// Failure is an injected failure of one call.
type Failure struct {
	// Pass lets the call through untouched: queue it before a failure to
	// fail a later call (Fail(ep, 1, Failure{Pass: true}) then the failure).
	Pass bool
	// Status is the status answered (default 500).
	Status int
	// AfterAccept processes and records the request as a success first,
	// then answers Status (or hangs): a success whose answer is lost.
	AfterAccept bool
	// Hang holds the request until the client gives up, the server is
	// closed, or HangFor passes (default 30 s); then Status is answered.
	Hang    bool
	HangFor time.Duration
}

// Message is one message object received in a push or reply.
type Message struct {
	Type string
	Text string // text messages
	Raw  []byte // the message object as received
}

// PushRecord is an accepted push request.
type PushRecord struct {
	RequestID string
	To        string
	RetryKey  string
	Messages  []Message
	At        time.Time
}

// ReplyRecord is an accepted reply request.
type ReplyRecord struct {
	RequestID  string
	ReplyToken string
	To         string // the user the token was issued for
	Messages   []Message
	At         time.Time
}

// LoadingRecord is an accepted loading animation request.
type LoadingRecord struct {
	ChatID  string
	Seconds int
	At      time.Time
}

// ReadRecord is an accepted markAsRead request.
type ReadRecord struct {
	Token string
	At    time.Time
}

// Call is any request the server answered, failed or not.
type Call struct {
	Endpoint Endpoint
	Status   int
	RetryKey string // push only
	User     string // push "to", profile user, loading chat id
	At       time.Time
}

// DeviceMessage is a message as the user's phone shows it.
type DeviceMessage struct {
	User string
	Via  Endpoint // Push or Reply
	Type string
	Text string
	At   time.Time
}

// Snapshot is the server's record at one moment. Its slices must not be
// modified.
type Snapshot struct {
	Pushes   []PushRecord
	Replies  []ReplyRecord
	Loadings []LoadingRecord
	Reads    []ReadRecord
	Calls    []Call
	// Delivered lists every message delivered to any user, in order.
	Delivered []DeviceMessage
}

// Device returns the messages user received, in order.
func (s Snapshot) Device(user string) []DeviceMessage {
	var out []DeviceMessage
	for _, m := range s.Delivered {
		if m.User == user {
			out = append(out, m)
		}
	}
	return out
}

// Texts returns the texts user received, in order.
func (s Snapshot) Texts(user string) []string {
	var out []string
	for _, m := range s.Device(user) {
		if m.Type == "text" {
			out = append(out, m.Text)
		}
	}
	return out
}

// CallCount counts the calls of ep answered with status (0 = any status).
func (s Snapshot) CallCount(ep Endpoint, status int) int {
	n := 0
	for _, c := range s.Calls {
		if c.Endpoint == ep && (status == 0 || c.Status == status) {
			n++
		}
	}
	return n
}

type profile struct{ name, lang string }

type content struct {
	contentType string
	data        []byte
}

type accepted struct {
	requestID string
	sent      []sentMessage
}

// Server is the fake LINE Platform. Create it with New; it is safe for
// concurrent use.
type Server struct {
	token string
	mux   *http.ServeMux

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	closed   chan struct{}
	isClosed bool
	failures map[Endpoint][]Failure
	profiles map[string]profile
	contents map[string]content
	tokens   map[string]string // reply token → user
	keys     map[string]accepted
	seq      int64
	snap     Snapshot
}

// New returns a server that accepts the channel access token token.
func New(token string) *Server {
	s := &Server{
		token: token, changed: make(chan struct{}), closed: make(chan struct{}),
		failures: make(map[Endpoint][]Failure), profiles: make(map[string]profile),
		contents: make(map[string]content), tokens: make(map[string]string), keys: make(map[string]accepted),
	}
	m := http.NewServeMux()
	m.HandleFunc("POST /v2/bot/message/push", s.push)
	m.HandleFunc("POST /v2/bot/message/reply", s.reply)
	m.HandleFunc("GET /v2/bot/profile/{userId}", s.profile)
	m.HandleFunc("POST /v2/bot/chat/loading/start", s.loading)
	m.HandleFunc("POST /v2/bot/chat/markAsRead", s.markAsRead)
	m.HandleFunc("GET /v2/bot/message/{messageId}/content", s.content)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, errorBody{Message: "Not found"})
	})
	s.mux = m
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close releases hanging requests. The server keeps answering afterwards.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.isClosed {
		s.isClosed = true
		close(s.closed)
	}
}

// SetProfile makes GET /v2/bot/profile/{user} answer with this display
// name and language ("" leaves language out).
func (s *Server) SetProfile(user, displayName, language string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.profiles[user] = profile{displayName, language}
}

// SetContent makes GET /v2/bot/message/{messageID}/content serve data.
func (s *Server) SetContent(messageID, contentType string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.contents[messageID] = content{contentType, append([]byte(nil), data...)}
}

// Fail makes the next n calls of ep fail with f.
func (s *Server) Fail(ep Endpoint, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[ep] = append(s.failures[ep], f)
	}
}

// Issue registers the reply tokens of events (as the platform does when it
// sends them), so the bridge can reply with them once.
func (s *Server) Issue(events ...Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		if t := e.ReplyToken(); t != "" {
			s.tokens[t] = e.UserID()
		}
	}
}

// SignedRequest issues the events' reply tokens and returns a webhook
// request for them signed with secret (see the package function).
func (s *Server) SignedRequest(secret, url string, events ...Event) *http.Request {
	s.Issue(events...)
	return SignedRequest(secret, url, events...)
}

// Snapshot returns the record so far.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotLocked()
}

// Device returns the messages user received so far, in order.
func (s *Server) Device(user string) []DeviceMessage { return s.Snapshot().Device(user) }

// WaitFor waits until cond holds for the record, re-evaluating it on every
// change, and returns the snapshot it held for. It fails when ctx ends.
func (s *Server) WaitFor(ctx context.Context, cond func(Snapshot) bool) (Snapshot, error) {
	for {
		s.mu.Lock()
		snap, ch := s.snapshotLocked(), s.changed
		s.mu.Unlock()
		if cond(snap) {
			return snap, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return snap, fmt.Errorf("linesim: condition not met: %w", ctx.Err())
		}
	}
}

func (s *Server) snapshotLocked() Snapshot {
	c := s.snap
	c.Pushes = c.Pushes[:len(c.Pushes):len(c.Pushes)]
	c.Replies = c.Replies[:len(c.Replies):len(c.Replies)]
	c.Loadings = c.Loadings[:len(c.Loadings):len(c.Loadings)]
	c.Reads = c.Reads[:len(c.Reads):len(c.Reads)]
	c.Calls = c.Calls[:len(c.Calls):len(c.Calls)]
	c.Delivered = c.Delivered[:len(c.Delivered):len(c.Delivered)]
	return c
}

// changedLocked wakes WaitFor callers.
func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Server) nextIDLocked(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%018d", prefix, 500000000000000000+s.seq)
}
