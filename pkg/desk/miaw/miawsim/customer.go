package miawsim

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// readJSON decodes a request body; on failure it has answered 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || json.Unmarshal(b, v) != nil {
		apiError(w, http.StatusBadRequest, "request body must be JSON")
		return false
	}
	return true
}

// own returns the conversation of the path if the token's end user owns it; otherwise it has
// answered 404 (unknown, or closed when open is true) or 403.
// customerCall runs the checks every customer call of a conversation starts
// with (with s.mu held): an injected fault of kind, the bearer token, the
// conversation being the caller's (and open, if open), and the deployment
// name of the query (if checkDeployment). It answered the error if not ok.
func (s *Sim) customerCall(w http.ResponseWriter, r *http.Request, kind string, open, checkDeployment bool) (*conversation, bool) {
	if s.fault(w, kind, r.PathValue("id")) {
		return nil, false
	}
	cl, ok := s.bearer(w, r)
	if !ok {
		return nil, false
	}
	c, ok := s.own(w, r, cl, open)
	if !ok {
		return nil, false
	}
	if checkDeployment && !s.checkDeployment(w, r.URL.Query().Get("esDeveloperName")) {
		return nil, false
	}
	return c, true
}

func (s *Sim) own(w http.ResponseWriter, r *http.Request, cl accessClaims, open bool) (*conversation, bool) {
	id := r.PathValue("id")
	c := s.convs[id]
	switch {
	case c == nil:
		apiError(w, http.StatusNotFound, "conversation not found: "+id)
	case c.subject != cl.Subject:
		apiError(w, http.StatusForbidden, "the conversation belongs to another end user")
	case open && c.state == StateClosed:
		apiError(w, http.StatusNotFound, "conversation is closed: "+id)
	default:
		return c, true
	}
	return nil, false
}

func (s *Sim) checkDeployment(w http.ResponseWriter, name string) bool {
	if s.opts.DeploymentName != "" && name != s.opts.DeploymentName {
		apiError(w, http.StatusBadRequest, "esDeveloperName is missing or unknown")
		return false
	}
	return true
}

func (s *Sim) handleCreate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault(w, "conversation", "") {
		return
	}
	cl, ok := s.bearer(w, r)
	if !ok {
		return
	}
	var in struct {
		ConversationID    string         `json:"conversationId"`
		ESDeveloperName   string         `json:"esDeveloperName"`
		RoutingAttributes map[string]any `json:"routingAttributes"`
	}
	if !readJSON(w, r, &in) || !s.checkDeployment(w, in.ESDeveloperName) {
		return
	}
	if !uuidV4.MatchString(in.ConversationID) {
		apiError(w, http.StatusBadRequest, "Specify the conversationId in UUID format. The UUID must be in lowercase.")
		return
	}
	if s.convs[in.ConversationID] != nil {
		apiError(w, http.StatusConflict, "conversation already exists: "+in.ConversationID)
		return
	}
	c := &conversation{
		id: in.ConversationID, subject: cl.Subject, routing: in.RoutingAttributes, createdAt: s.opts.Now(),
		msgIDs: map[string]bool{},
	}
	if c.routing == nil {
		c.routing = map[string]any{}
	}
	s.convs[c.id] = c
	s.order = append(s.order, c.id)
	s.stats.Conversations++
	s.startSession(c)
	s.opts.Logger.Info("conversation created", "conversation", c.id)
	s.notify(EventCreated, c, "")
	simkit.WriteJSON(w, http.StatusCreated, map[string]string{"conversationId": c.id})
}

func (s *Sim) handleMessage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fault(w, "message", r.PathValue("id")) {
		if c := s.convs[r.PathValue("id")]; c != nil {
			s.notify(EventUpdated, c, "")
		}
		return
	}
	cl, ok := s.bearer(w, r)
	if !ok {
		return
	}
	c, ok := s.own(w, r, cl, true)
	if !ok {
		return
	}
	var in struct {
		Message struct {
			ID                 string `json:"id"`
			MessageType        string `json:"messageType"`
			InReplyToMessageID string `json:"inReplyToMessageId"`
			StaticContent      struct {
				FormatType string `json:"formatType"`
				Text       string `json:"text"`
			} `json:"staticContent"`
		} `json:"message"`
		ESDeveloperName       string         `json:"esDeveloperName"`
		IsNewMessagingSession bool           `json:"isNewMessagingSession"`
		RoutingAttributes     map[string]any `json:"routingAttributes"`
		Language              string         `json:"language"`
	}
	if !readJSON(w, r, &in) || !s.checkDeployment(w, in.ESDeveloperName) {
		return
	}
	m := in.Message
	switch {
	case !uuidAny.MatchString(m.ID):
		apiError(w, http.StatusBadRequest, "message.id must be a lowercase UUID")
		return
	case m.MessageType != "StaticContentMessage" || m.StaticContent.FormatType != "Text":
		apiError(w, http.StatusBadRequest, "only StaticContentMessage with formatType Text is supported")
		return
	case strings.TrimSpace(m.StaticContent.Text) == "":
		apiError(w, http.StatusBadRequest, "message text is empty")
		return
	}
	if c.msgIDs[m.ID] {
		c.counters.DuplicateMessages++
		s.notify(EventUpdated, c, "")
		simkit.WriteJSON(w, http.StatusAccepted, map[string]any{"conversationEntries": []map[string]any{{"id": m.ID, "clientTimestamp": s.opts.Now().UnixMilli()}}})
		return
	}
	if !c.sessionOpen() {
		if !in.IsNewMessagingSession {
			c.counters.NoSession417++
			s.notify(EventUpdated, c, "")
			apiError(w, http.StatusExpectationFailed, "The message failed because no messaging session exists. Send it with isNewMessagingSession.")
			return
		}
		for k, v := range in.RoutingAttributes {
			c.routing[k] = v
		}
		c.counters.NewSessions++
		s.startSession(c)
	}
	c.msgIDs[m.ID] = true
	c.counters.Messages++
	if c.state == StateQueued {
		c.counters.MessagesBeforeAgent++
	}
	c.userTyping = false
	text := m.StaticContent.Text
	s.add(c, &entry{ID: m.ID, Type: "Message", Role: RoleEndUser, Name: "Guest", Subject: c.subject, Persistent: true, Text: text,
		Payload: map[string]any{"abstractMessage": map[string]any{
			"messageType": "StaticContentMessage", "id": m.ID, "inReplyToMessageId": nilIfEmpty(m.InReplyToMessageID),
			"staticContent": map[string]any{"formatType": "Text", "text": text},
		}, "messageReason": nil}})
	s.notify(EventEndUserMessage, c, text)
	if s.autoReply && c.state == StateActive {
		s.agentSend(c, "Echo: "+text)
	}
	simkit.WriteJSON(w, http.StatusAccepted, map[string]any{"conversationEntries": []map[string]any{{"id": m.ID, "clientTimestamp": s.opts.Now().UnixMilli()}}})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Sim) handleEntry(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customerCall(w, r, "entry", true, false)
	if !ok {
		return
	}
	var in struct {
		EntryType string `json:"entryType"`
		ID        string `json:"id"`
	}
	if !readJSON(w, r, &in) {
		return
	}
	if in.EntryType != "TypingStartedIndicator" && in.EntryType != "TypingStoppedIndicator" {
		apiError(w, http.StatusBadRequest, "entryType must be TypingStartedIndicator or TypingStoppedIndicator")
		return
	}
	if !uuidAny.MatchString(in.ID) {
		apiError(w, http.StatusBadRequest, "id must be a lowercase UUID")
		return
	}
	if !c.sessionOpen() {
		c.counters.NoSession417++
		s.notify(EventUpdated, c, "")
		apiError(w, http.StatusExpectationFailed, "no messaging session exists")
		return
	}
	c.userTyping = in.EntryType == "TypingStartedIndicator"
	c.counters.Typing++
	s.add(c, &entry{ID: in.ID, Type: in.EntryType, Role: RoleEndUser, Name: "Guest", Subject: c.subject})
	s.notify(EventUpdated, c, "")
	w.WriteHeader(http.StatusAccepted)
}

func (s *Sim) handleEntries(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customerCall(w, r, "entries", false, false)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			apiError(w, http.StatusBadRequest, "limit must be between 1 and 50")
			return
		}
		limit = n
	}
	var start, end int64
	for _, p := range []struct {
		name string
		v    *int64
	}{{"startTimestamp", &start}, {"endTimestamp", &end}} {
		if v := q.Get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				apiError(w, http.StatusBadRequest, p.name+" must be epoch milliseconds")
				return
			}
			*p.v = n
		}
	}
	dir := q.Get("direction")
	if dir == "" {
		dir = "FromEnd"
	}
	if dir != "FromStart" && dir != "FromEnd" {
		apiError(w, http.StatusBadRequest, "direction must be FromStart or FromEnd")
		return
	}
	var types []string
	if v := q.Get("entryTypeFilter"); v != "" {
		types = strings.Split(v, ",")
	}
	var sel []*entry
	for _, e := range c.entries {
		if start > 0 && e.TS < start || end > 0 && e.TS > end {
			continue
		}
		if types != nil && !slices.Contains(types, e.Type) {
			continue
		}
		sel = append(sel, e)
	}
	if dir == "FromEnd" {
		slices.Reverse(sel)
	}
	if len(sel) > limit {
		sel = sel[:limit]
	}
	out := make([]map[string]any, 0, len(sel))
	for _, e := range sel {
		out = append(out, e.wire(s.opts.EntriesPayloadAsString))
	}
	c.counters.EntryLists++
	s.notify(EventUpdated, c, "")
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"conversationEntries": out})
}

func (s *Sim) handleClose(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customerCall(w, r, "close", true, true)
	if !ok {
		return
	}
	if c.sessionOpen() {
		s.endSession(c, RoleEndUser)
	}
	c.state = StateClosed
	c.closedAt = s.opts.Now()
	s.add(c, &entry{Type: "CloseConversation", Role: RoleEndUser, Name: "Guest", Subject: c.subject, Persistent: true, Text: "conversation closed"})
	s.opts.Logger.Info("conversation closed", "conversation", c.id)
	s.notify(EventClosed, c, "")
	s.pruneClosed()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) handleEndSession(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.customerCall(w, r, "session", true, true)
	if !ok {
		return
	}
	if c.sessionOpen() {
		s.endSession(c, RoleEndUser)
		s.notify(EventUpdated, c, "")
	}
	w.WriteHeader(http.StatusNoContent)
}
