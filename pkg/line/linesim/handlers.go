package linesim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits the server enforces, as LINE does.
const (
	MaxMessages  = 5
	MaxTextUnits = 5000
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

type errorDetail struct {
	Message  string `json:"message"`
	Property string `json:"property,omitempty"`
}

type errorBody struct {
	Message      string        `json:"message"`
	Details      []errorDetail `json:"details,omitempty"`
	SentMessages []sentMessage `json:"sentMessages,omitempty"`
}

type sentMessage struct {
	ID         string `json:"id"`
	QuoteToken string `json:"quoteToken,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// utf16Len counts UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 && r <= utf8.MaxRune {
			n += 2
		} else {
			n++
		}
	}
	return n
}

// begin does what every endpoint does first: it checks the token and the
// retry key header and takes the next injected failure. It reports false if
// it has answered already.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, ep Endpoint, user string) (*Failure, bool) {
	key := r.Header.Get("X-Line-Retry-Key")
	if r.Header.Get("Authorization") != "Bearer "+s.token || s.token == "" {
		s.answer(w, ep, user, key, http.StatusUnauthorized, errorBody{Message: "Authentication failed. Confirm that the access token in the authorization header is valid."})
		return nil, false
	}
	if key != "" && ep != Push {
		s.answer(w, ep, user, key, http.StatusBadRequest, errorBody{Message: "X-Line-Retry-Key is not supported by this API"})
		return nil, false
	}
	if key != "" && !uuidRE.MatchString(key) {
		s.answer(w, ep, user, key, http.StatusBadRequest, errorBody{Message: "The value for the 'X-Line-Retry-Key' header is invalid"})
		return nil, false
	}
	s.mu.Lock()
	var f *Failure
	if q := s.failures[ep]; len(q) > 0 {
		f = &q[0]
		s.failures[ep] = q[1:]
		if f.Pass {
			f = nil
		}
	}
	s.mu.Unlock()
	if f != nil && !f.AfterAccept {
		s.fail(w, r, ep, user, key, f)
		return nil, false
	}
	return f, true
}

// answer writes a response and records the call.
func (s *Server) answer(w http.ResponseWriter, ep Endpoint, user, key string, status int, body any) {
	s.mu.Lock()
	s.snap.Calls = append(s.snap.Calls, Call{Endpoint: ep, Status: status, RetryKey: key, User: user, At: time.Now()})
	s.changedLocked()
	s.mu.Unlock()
	writeJSON(w, status, body)
}

// fail answers an injected failure, hanging first if asked to.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, ep Endpoint, user, key string, f *Failure) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.Hang {
		d := f.HangFor
		if d <= 0 {
			d = 30 * time.Second
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			s.mu.Lock()
			s.snap.Calls = append(s.snap.Calls, Call{Endpoint: ep, Status: 0, RetryKey: key, User: user, At: time.Now()})
			s.changedLocked()
			s.mu.Unlock()
			return // the client gave up; nobody reads an answer
		case <-s.closed:
		case <-t.C:
		}
	}
	msg := "Internal server error"
	if status == http.StatusTooManyRequests {
		msg = "The API rate limit has been exceeded. Try again later."
	}
	s.answer(w, ep, user, key, status, errorBody{Message: msg})
}

// parseMessages validates message objects as LINE does.
func parseMessages(raw []json.RawMessage) ([]Message, []errorDetail) {
	var details []errorDetail
	if len(raw) < 1 || len(raw) > MaxMessages {
		return nil, []errorDetail{{Message: fmt.Sprintf("Size must be between 1 and %d", MaxMessages), Property: "messages"}}
	}
	msgs := make([]Message, 0, len(raw))
	for i, m := range raw {
		var v struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		prop := fmt.Sprintf("messages[%d]", i)
		if err := json.Unmarshal(m, &v); err != nil || v.Type == "" {
			details = append(details, errorDetail{Message: "Must be one of the following values: [text, image, video, audio, location, sticker, template, imagemap, flex]", Property: prop + ".type"})
			continue
		}
		if v.Type == "text" {
			if v.Text == "" {
				details = append(details, errorDetail{Message: "May not be empty", Property: prop + ".text"})
				continue
			}
			if n := utf16Len(v.Text); n > MaxTextUnits {
				details = append(details, errorDetail{Message: fmt.Sprintf("Length must be between 0 and %d", MaxTextUnits), Property: prop + ".text"})
				continue
			}
		}
		msgs = append(msgs, Message{Type: v.Type, Text: v.Text, Raw: append([]byte(nil), m...)})
	}
	return msgs, details
}

func badRequest(details []errorDetail) errorBody {
	return errorBody{Message: fmt.Sprintf("The request body has %d error(s)", len(details)), Details: details}
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	var body struct {
		To       string            `json:"to"`
		Messages []json.RawMessage `json:"messages"`
	}
	decErr := json.NewDecoder(r.Body).Decode(&body)
	key := r.Header.Get("X-Line-Retry-Key")
	f, ok := s.begin(w, r, Push, body.To)
	if !ok {
		return
	}
	if decErr != nil {
		s.answer(w, Push, body.To, key, http.StatusBadRequest, errorBody{Message: "The request body could not be parsed as JSON"})
		return
	}
	msgs, details := parseMessages(body.Messages)
	if body.To == "" {
		details = append(details, errorDetail{Message: "May not be empty", Property: "to"})
	}

	s.mu.Lock()
	if key != "" {
		if a, dup := s.keys[key]; dup {
			s.mu.Unlock()
			w.Header().Set("X-Line-Accepted-Request-Id", a.requestID)
			w.Header().Set("X-Line-Request-Id", s.newRequestID())
			s.answer(w, Push, body.To, key, http.StatusConflict, errorBody{Message: "The retry key is already accepted", SentMessages: a.sent})
			return
		}
	}
	if len(details) > 0 {
		s.mu.Unlock()
		s.answer(w, Push, body.To, key, http.StatusBadRequest, badRequest(details))
		return
	}
	reqID := s.nextIDLocked("req")
	sent := make([]sentMessage, len(msgs))
	now := time.Now()
	for i, m := range msgs {
		sent[i] = sentMessage{ID: s.nextIDLocked(""), QuoteToken: randomHex(16)}
		s.snap.Delivered = append(s.snap.Delivered, DeviceMessage{User: body.To, Via: Push, Type: m.Type, Text: m.Text, At: now})
	}
	if key != "" {
		s.keys[key] = accepted{requestID: reqID, sent: sent}
	}
	s.snap.Pushes = append(s.snap.Pushes, PushRecord{RequestID: reqID, To: body.To, RetryKey: key, Messages: msgs, At: now})
	s.changedLocked()
	s.mu.Unlock()

	if f != nil {
		s.fail(w, r, Push, body.To, key, f)
		return
	}
	w.Header().Set("X-Line-Request-Id", reqID)
	s.answer(w, Push, body.To, key, http.StatusOK, map[string]any{"sentMessages": sent})
}

func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ReplyToken string            `json:"replyToken"`
		Messages   []json.RawMessage `json:"messages"`
	}
	decErr := json.NewDecoder(r.Body).Decode(&body)
	s.mu.Lock()
	user := s.tokens[body.ReplyToken]
	s.mu.Unlock()
	f, ok := s.begin(w, r, Reply, user)
	if !ok {
		return
	}
	if decErr != nil {
		s.answer(w, Reply, user, "", http.StatusBadRequest, errorBody{Message: "The request body could not be parsed as JSON"})
		return
	}
	msgs, details := parseMessages(body.Messages)
	if len(details) > 0 {
		s.answer(w, Reply, user, "", http.StatusBadRequest, badRequest(details))
		return
	}
	s.mu.Lock()
	user, issued := s.tokens[body.ReplyToken]
	if !issued {
		s.mu.Unlock()
		s.answer(w, Reply, "", "", http.StatusBadRequest, errorBody{Message: "Invalid reply token"})
		return
	}
	delete(s.tokens, body.ReplyToken)
	reqID := s.nextIDLocked("req")
	sent := make([]sentMessage, len(msgs))
	now := time.Now()
	for i, m := range msgs {
		sent[i] = sentMessage{ID: s.nextIDLocked(""), QuoteToken: randomHex(16)}
		s.snap.Delivered = append(s.snap.Delivered, DeviceMessage{User: user, Via: Reply, Type: m.Type, Text: m.Text, At: now})
	}
	s.snap.Replies = append(s.snap.Replies, ReplyRecord{RequestID: reqID, ReplyToken: body.ReplyToken, To: user, Messages: msgs, At: now})
	s.changedLocked()
	s.mu.Unlock()
	if f != nil {
		s.fail(w, r, Reply, user, "", f)
		return
	}
	w.Header().Set("X-Line-Request-Id", reqID)
	s.answer(w, Reply, user, "", http.StatusOK, map[string]any{"sentMessages": sent})
}

func (s *Server) profile(w http.ResponseWriter, r *http.Request) {
	user := r.PathValue("userId")
	f, ok := s.begin(w, r, Profile, user)
	if !ok {
		return
	}
	s.mu.Lock()
	p, known := s.profiles[user]
	s.mu.Unlock()
	if f != nil {
		s.fail(w, r, Profile, user, "", f)
		return
	}
	if !known {
		s.answer(w, Profile, user, "", http.StatusNotFound, errorBody{Message: "Not found"})
		return
	}
	body := map[string]string{"displayName": p.name, "userId": user}
	if p.lang != "" {
		body["language"] = p.lang
	}
	s.answer(w, Profile, user, "", http.StatusOK, body)
}

func (s *Server) loading(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ChatID         string `json:"chatId"`
		LoadingSeconds *int   `json:"loadingSeconds"`
	}
	decErr := json.NewDecoder(r.Body).Decode(&body)
	f, ok := s.begin(w, r, Loading, body.ChatID)
	if !ok {
		return
	}
	secs := 20
	if body.LoadingSeconds != nil {
		secs = *body.LoadingSeconds
	}
	var details []errorDetail
	if decErr != nil || !strings.HasPrefix(body.ChatID, "U") {
		details = append(details, errorDetail{Message: "Must be a user ID", Property: "chatId"})
	}
	if secs < 5 || secs > 60 || secs%5 != 0 {
		details = append(details, errorDetail{Message: "Must be a multiple of 5 between 5 and 60", Property: "loadingSeconds"})
	}
	if len(details) > 0 {
		s.answer(w, Loading, body.ChatID, "", http.StatusBadRequest, badRequest(details))
		return
	}
	s.mu.Lock()
	s.snap.Loadings = append(s.snap.Loadings, LoadingRecord{ChatID: body.ChatID, Seconds: secs, At: time.Now()})
	s.changedLocked()
	s.mu.Unlock()
	if f != nil {
		s.fail(w, r, Loading, body.ChatID, "", f)
		return
	}
	s.answer(w, Loading, body.ChatID, "", http.StatusAccepted, struct{}{})
}

func (s *Server) markAsRead(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Token string `json:"markAsReadToken"`
	}
	decErr := json.NewDecoder(r.Body).Decode(&body)
	f, ok := s.begin(w, r, MarkAsRead, "")
	if !ok {
		return
	}
	if decErr != nil || body.Token == "" {
		s.answer(w, MarkAsRead, "", "", http.StatusBadRequest, badRequest([]errorDetail{{Message: "May not be empty", Property: "markAsReadToken"}}))
		return
	}
	s.mu.Lock()
	s.snap.Reads = append(s.snap.Reads, ReadRecord{Token: body.Token, At: time.Now()})
	s.changedLocked()
	s.mu.Unlock()
	if f != nil {
		s.fail(w, r, MarkAsRead, "", "", f)
		return
	}
	s.answer(w, MarkAsRead, "", "", http.StatusOK, struct{}{})
}

func (s *Server) content(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("messageId")
	f, ok := s.begin(w, r, Content, "")
	if !ok {
		return
	}
	s.mu.Lock()
	c, known := s.contents[id]
	s.mu.Unlock()
	if f != nil {
		s.fail(w, r, Content, "", "", f)
		return
	}
	if !known {
		s.answer(w, Content, "", "", http.StatusNotFound, errorBody{Message: "Not found"})
		return
	}
	s.mu.Lock()
	s.snap.Calls = append(s.snap.Calls, Call{Endpoint: Content, Status: http.StatusOK, At: time.Now()})
	s.changedLocked()
	s.mu.Unlock()
	w.Header().Set("Content-Type", c.contentType)
	w.Header().Set("Content-Length", fmt.Sprint(len(c.data)))
	_, _ = w.Write(c.data)
}

func (s *Server) newRequestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nextIDLocked("req")
}
