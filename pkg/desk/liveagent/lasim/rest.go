package lasim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// Header names of the Chat REST API.
const (
	HeaderAPIVersion = "X-LIVEAGENT-API-VERSION"
	HeaderAffinity   = "X-LIVEAGENT-AFFINITY"
	HeaderSessionKey = "X-LIVEAGENT-SESSION-KEY"
	HeaderSequence   = "X-LIVEAGENT-SEQUENCE"
)

// Response bodies.
const (
	sessionInvalidBody  = "Session required but was invalid or not found" // observed
	noVersionBody       = "No version header found"                       // observed
	dupPollBody         = "A duplicate long poll using the same session ID has caused the chat to terminate. Reestablish the chat in a new session."
	affinityChangedBody = "Service Unavailable: affinity changed, reconnect the session"
	notEstablishedBody  = "java.lang.NullPointerException: the chat is not established"
	maxRESTBody         = 1 << 20
)

// resp is a response computed under the lock and written after it is released.
type resp struct {
	status int
	ctype  string
	body   []byte
}

func plainResp(status int, body string) *resp {
	return &resp{status: status, ctype: "text/plain;charset=UTF-8", body: []byte(body)}
}

func jsonResp(status int, v any) *resp {
	b, err := json.Marshal(v)
	if err != nil {
		return plainResp(http.StatusInternalServerError, err.Error())
	}
	return &resp{status: status, ctype: "application/json;charset=UTF-8", body: b}
}

var okResp = plainResp(http.StatusOK, "OK")

func (r *resp) write(w http.ResponseWriter) {
	if r.status == http.StatusNoContent {
		w.WriteHeader(r.status)
		return
	}
	w.Header().Set("Content-Type", r.ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// validationError is the JSON shape of a 400 on a body that cannot be understood.
func validationError(property, msg string) *resp {
	type detail struct {
		Property string `json:"property"`
		Message  string `json:"message"`
	}
	v := struct {
		Message string   `json:"message"`
		Details []detail `json:"details"`
	}{Message: msg, Details: []detail{}}
	if property != "" {
		v.Details = append(v.Details, detail{property, msg})
	}
	return jsonResp(http.StatusBadRequest, v)
}

func validAPIVersion(v string) bool {
	v = strings.TrimSuffix(strings.TrimSpace(v), ".0")
	n, err := strconv.Atoi(v)
	return err == nil && n >= 29 && n <= 67
}

type affinityRule int

const (
	affExact affinityRule = iota // must be the session's current affinity
	affAny                       // ReconnectSession: "null" expected, anything accepted
)

// gate runs the checks shared by the session resources, in order: API version (400), injected
// faults, session key (403), affinity (503 while a reconnect is pending or for the affinity
// replaced by the last reconnect, else 403). It also applies a due expiry. Called with s.mu held.
func (s *Sim) gate(r *http.Request, kind, key string, rule affinityRule) (*chat, *resp) {
	if rsp := checkVersion(r); rsp != nil {
		return nil, rsp
	}
	c := s.byKey[key]
	if key == "" {
		c = nil
	}
	if c != nil {
		s.checkExpiry(c, s.opts.Now())
	}
	if rsp := s.takeFault(kind, c); rsp != nil {
		return nil, rsp
	}
	if c == nil {
		return nil, plainResp(http.StatusForbidden, sessionInvalidBody)
	}
	if rule == affExact {
		got := r.Header.Get(HeaderAffinity)
		switch {
		case c.reconnectPending && !c.closedForVisitor():
			return nil, plainResp(http.StatusServiceUnavailable, affinityChangedBody)
		case got == c.affinity:
		case got != "" && got == c.prevAffinity && !c.closedForVisitor():
			return nil, plainResp(http.StatusServiceUnavailable, affinityChangedBody)
		default:
			c.counters.Forbidden403++
			return nil, plainResp(http.StatusForbidden, sessionInvalidBody)
		}
	}
	return c, nil
}

func checkVersion(r *http.Request) *resp {
	v := r.Header.Get(HeaderAPIVersion)
	if strings.TrimSpace(v) == "" {
		return plainResp(http.StatusBadRequest, noVersionBody)
	}
	if !validAPIVersion(v) {
		return plainResp(http.StatusBadRequest, "Unsupported API version: "+v)
	}
	return nil
}

func forbidden(c *chat) *resp {
	c.counters.Forbidden403++
	return plainResp(http.StatusForbidden, sessionInvalidBody)
}

// handleSessionID: GET System/SessionId.
func (s *Sim) handleSessionID(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rsp := s.newSession(r)
	s.mu.Unlock()
	rsp.write(w)
}

func (s *Sim) newSession(r *http.Request) *resp {
	if rsp := checkVersion(r); rsp != nil {
		return rsp
	}
	if rsp := s.takeFault("sessionId", nil); rsp != nil {
		return rsp
	}
	now := s.opts.Now()
	id := simkit.RandomUUID()
	c := &chat{
		id:         id,
		key:        s.sessionKey(id, now),
		affinity:   s.opts.NewAffinityToken(),
		baseURL:    requestBaseURL(r),
		state:      StateCreated,
		createdAt:  now,
		lastPollAt: now,
		nextSeq:    s.opts.FirstSequence,
		offset:     int64(now.Unix() % 100000000),
		wake:       make(chan struct{}),
	}
	s.chats[id] = c
	s.byKey[c.key] = c
	s.order = append(s.order, id)
	s.opts.Logger.Info("session created", "chat", id)
	s.notify(EventChatCreated, c, "")
	s.life.Wake()
	return jsonResp(http.StatusOK, struct {
		Key               string      `json:"key"`
		ID                string      `json:"id"`
		ClientPollTimeout json.Number `json:"clientPollTimeout"`
		AffinityToken     string      `json:"affinityToken"`
	}{c.key, c.id, json.Number(strconv.FormatFloat(s.pollTimeout.Seconds(), 'f', -1, 64)), c.affinity})
}

func requestBaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// handleDeleteSession: DELETE System/SessionId/{key}.
func (s *Sim) handleDeleteSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rsp := func() *resp {
		c, rsp := s.gate(r, "deleteSession", r.PathValue("key"), affExact)
		if rsp != nil {
			return rsp
		}
		if c.closedForVisitor() {
			return forbidden(c)
		}
		s.end(c, StateEnded, EndedByVisitor, "deleted", false)
		return okResp
	}()
	s.mu.Unlock()
	rsp.write(w)
}

// handleReconnect: GET System/ReconnectSession?ReconnectSession.offset=N.
func (s *Sim) handleReconnect(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rsp := s.reconnect(r)
	s.mu.Unlock()
	rsp.write(w)
}

func (s *Sim) reconnect(r *http.Request) *resp {
	c, rsp := s.gate(r, "reconnectSession", r.Header.Get(HeaderSessionKey), affAny)
	if rsp != nil {
		return rsp
	}
	if c.closedForVisitor() {
		return forbidden(c)
	}
	if off := r.URL.Query().Get("ReconnectSession.offset"); off != "" {
		if _, err := strconv.ParseInt(off, 10, 64); err != nil {
			return plainResp(http.StatusBadRequest, "Invalid ReconnectSession.offset: "+off)
		}
	}
	c.counters.Reconnects++
	c.prevAffinity = c.affinity
	for c.affinity == c.prevAffinity {
		c.affinity = s.opts.NewAffinityToken()
	}
	c.reconnectPending = false
	c.lastClientSeq = 0
	c.pending = append([]outEvent{{Type: "ChasitorSessionData", Message: s.sessionData(c)}}, c.pending...)
	s.wakeChat(c)
	s.opts.Logger.Info("session reconnected", "chat", c.id, "affinity", c.affinity)
	s.notify(EventChatUpdated, c, "")
	return jsonResp(http.StatusOK, map[string]any{
		"messages": []outEvent{{Type: "ReconnectSession", Message: struct {
			ResetSequence bool   `json:"resetSequence"`
			AffinityToken string `json:"affinityToken"`
		}{true, c.affinity}}},
	})
}

// handleAvailability: GET Visitor/Availability.
func (s *Sim) handleAvailability(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rsp := s.availability(r)
	s.mu.Unlock()
	rsp.write(w)
}

func (s *Sim) availability(r *http.Request) *resp {
	if rsp := checkVersion(r); rsp != nil {
		return rsp
	}
	if rsp := s.takeFault("availability", nil); rsp != nil {
		return rsp
	}
	q := r.URL.Query()
	org := q.Get("org_id")
	if org == "" || q.Get("deployment_id") == "" {
		return validationError("org_id", "org_id and deployment_id are required")
	}
	if s.opts.OrgID != "" && org != s.opts.OrgID {
		base := s.opts.BaseURL
		if base == "" {
			base = requestBaseURL(r)
		}
		return jsonResp(http.StatusOK, map[string]any{"messages": []outEvent{{
			Type: "SwitchServer", Message: map[string]string{"newUrl": strings.TrimRight(base, "/") + "/chat"},
		}}})
	}
	var ids []string
	for _, v := range q["Availability.ids"] {
		v = strings.Trim(strings.TrimSpace(v), "[]")
		for id := range strings.SplitSeq(v, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return validationError("Availability.ids", "Availability.ids is required")
	}
	needWait := q.Get("Availability.needEstimatedWaitTime") == "1"
	results := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		res := map[string]any{"id": id}
		if s.isOnline(id) {
			res["isAvailable"] = true // absent means false, as in the real responses
			if needWait {
				res["estimatedWaitTime"] = 15 * (1 + s.queuedCount())
			}
		}
		results = append(results, res)
	}
	return jsonResp(http.StatusOK, map[string]any{"messages": []outEvent{{
		Type: "Availability", Message: map[string]any{"results": results},
	}}})
}

func (s *Sim) isOnline(buttonID string) bool {
	if v, ok := s.online[buttonID]; ok {
		return v
	}
	return s.online[""]
}

func (s *Sim) queuedCount() int {
	n := 0
	for _, c := range s.chats {
		if c.state == StateQueued {
			n++
		}
	}
	return n
}

// readBody reads a bounded request body.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *resp) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRESTBody))
	if err != nil {
		return nil, plainResp(http.StatusRequestEntityTooLarge, "request body too large")
	}
	return b, nil
}

// RequestRecord is one chat REST or upload request, as received, for assertions on headers.
type RequestRecord struct {
	Time   time.Time   `json:"time"`
	Kind   string      `json:"kind"`
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query,omitempty"`
	Header http.Header `json:"header"`
	Status int         `json:"status"`
	ChatID string      `json:"chatId,omitempty"`
}

const maxRequestRecords = 1000

// Requests returns the recent chat REST and upload requests, oldest first (at most 1000).
func (s *Sim) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]RequestRecord, len(s.requests))
	copy(out, s.requests)
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recorded wraps a chat REST handler to keep a RequestRecord.
func (s *Sim) recorded(kind string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := RequestRecord{
			Time:   s.opts.Now(),
			Kind:   kind,
			Method: r.Method,
			Path:   r.URL.Path,
			Query:  r.URL.RawQuery,
			Header: r.Header.Clone(),
		}
		if rec.Kind == "" {
			rec.Kind = nounKind(r.PathValue("noun"))
		}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		rec.Status = sw.status
		key := r.Header.Get(HeaderSessionKey)
		if k := r.PathValue("key"); k != "" {
			key = k
		}
		s.mu.Lock()
		if c := s.byKey[key]; c != nil && key != "" {
			rec.ChatID = c.id
		} else if tok := r.URL.Query().Get("fileToken"); tok != "" && s.fileTokens[tok] != nil {
			rec.ChatID = s.fileTokens[tok].id
		}
		s.requests = append(s.requests, rec)
		if len(s.requests) > maxRequestRecords {
			s.requests = s.requests[len(s.requests)-maxRequestRecords:]
		}
		s.mu.Unlock()
	})
}

func nounKind(noun string) string {
	if noun == "" {
		return ""
	}
	return strings.ToLower(noun[:1]) + noun[1:]
}
