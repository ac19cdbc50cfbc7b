package lasim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// noun is one Chasitor/* resource.
type noun struct {
	kind  string // fault kind and request record kind
	seq   bool   // carries X-LIVEAGENT-SEQUENCE (de-duplicated)
	apply func(s *Sim, c *chat, body []byte) *resp
}

var nouns = map[string]noun{
	"ChasitorInit":                    {"chasitorInit", true, (*Sim).applyInit},
	"ChatMessage":                     {"chatMessage", true, (*Sim).applyChatMessage},
	"ChasitorTyping":                  {"chasitorTyping", true, (*Sim).applyTyping},
	"ChasitorNotTyping":               {"chasitorNotTyping", true, (*Sim).applyNotTyping},
	"ChasitorSneakPeek":               {"chasitorSneakPeek", true, (*Sim).applySneakPeek},
	"CustomEvent":                     {"customEvent", true, (*Sim).applyCustomEvent},
	"ChatEnd":                         {"chatEnd", true, (*Sim).applyChatEnd},
	"ChasitorIdleTimeoutWarningEvent": {"chasitorIdleTimeoutWarningEvent", true, (*Sim).applyIdleWarning},
	"ChasitorResyncState":             {"chasitorResyncState", false, (*Sim).applyResync},
}

// handleChasitor: POST Chasitor/{noun}.
func (s *Sim) handleChasitor(w http.ResponseWriter, r *http.Request) {
	n, ok := nouns[r.PathValue("noun")]
	if !ok {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	body, rsp := readBody(w, r)
	if rsp != nil {
		rsp.write(w)
		return
	}
	s.mu.Lock()
	rsp = func() *resp {
		c, rsp := s.gate(r, n.kind, r.Header.Get(HeaderSessionKey), affExact)
		if rsp != nil {
			return rsp
		}
		return s.post(c, r, body, func() *resp { return n.apply(s, c, body) }, n.seq, 1)
	}()
	s.mu.Unlock()
	rsp.write(w)
}

// post applies a visitor POST with the sequence rules: a session that is over answers 403; a
// sequence not greater than the last applied one answers 200 without applying (strict mode).
func (s *Sim) post(c *chat, r *http.Request, body []byte, apply func() *resp, seqd bool, n int) *resp {
	if c.closedForVisitor() {
		return forbidden(c)
	}
	c.counters.Posts += n
	var seq int64
	hasSeq := false
	if v := r.Header.Get(HeaderSequence); seqd && v != "" {
		var err error
		seq, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return plainResp(http.StatusBadRequest, "Invalid "+HeaderSequence+": "+v)
		}
		hasSeq = true
		if !s.opts.DisableStrictSequence && seq <= c.lastClientSeq {
			c.counters.DuplicatePosts++
			s.notify(EventChatUpdated, c, "")
			return okResp
		}
	}
	rsp := apply()
	if rsp.status == http.StatusOK && hasSeq && seq > c.lastClientSeq {
		c.lastClientSeq = seq
	}
	if !c.closedForVisitor() {
		s.notify(EventChatUpdated, c, "")
	}
	return rsp
}

// handleMultiNoun: POST System/MultiNoun {"nouns":[{"prefix":"Chasitor","noun":…,"object":…}]}.
// The request's sequence covers all nouns; they are applied in order until one fails.
func (s *Sim) handleMultiNoun(w http.ResponseWriter, r *http.Request) {
	body, rsp := readBody(w, r)
	if rsp != nil {
		rsp.write(w)
		return
	}
	var req struct {
		Nouns []struct {
			Prefix string          `json:"prefix"`
			Noun   string          `json:"noun"`
			Object json.RawMessage `json:"object"`
		} `json:"nouns"`
	}
	s.mu.Lock()
	rsp = func() *resp {
		c, rsp := s.gate(r, "multiNoun", r.Header.Get(HeaderSessionKey), affExact)
		if rsp != nil {
			return rsp
		}
		if err := json.Unmarshal(body, &req); err != nil || len(req.Nouns) == 0 {
			return validationError("nouns", "nouns must be a non-empty array")
		}
		return s.post(c, r, body, func() *resp {
			for _, nn := range req.Nouns {
				n, ok := nouns[nn.Noun]
				if !ok || (nn.Prefix != "" && nn.Prefix != "Chasitor") {
					return validationError("noun", "unknown noun "+nn.Prefix+"/"+nn.Noun)
				}
				obj := nn.Object
				if len(obj) == 0 {
					obj = []byte("{}")
				}
				if c.closedForVisitor() {
					return forbidden(c)
				}
				if rsp := n.apply(s, c, obj); rsp.status != http.StatusOK {
					return rsp
				}
			}
			return okResp
		}, true, len(req.Nouns))
	}()
	s.mu.Unlock()
	rsp.write(w)
}

// decodeObject decodes a JSON object body; an empty body counts as {}.
func decodeObject(body []byte, v any) *resp {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		b = []byte("{}")
	}
	if b[0] != '{' {
		return validationError("", "the request body must be a JSON object")
	}
	if err := json.Unmarshal(b, v); err != nil {
		return validationError("", "the JSON body can't be understood: "+err.Error())
	}
	return nil
}

// looseBool accepts true/false and "true"/"false" (some clients send strings).
type looseBool struct{ set, v bool }

func (b *looseBool) UnmarshalJSON(d []byte) error {
	var x any
	if err := json.Unmarshal(d, &x); err != nil {
		return err
	}
	switch t := x.(type) {
	case bool:
		*b = looseBool{true, t}
	case string:
		*b = looseBool{true, strings.EqualFold(t, "true")}
	case nil:
	default:
		*b = looseBool{true, false}
	}
	return nil
}

func (s *Sim) applyInit(c *chat, body []byte) *resp {
	var in struct {
		OrganizationID      string          `json:"organizationId"`
		DeploymentID        string          `json:"deploymentId"`
		ButtonID            string          `json:"buttonId"`
		SessionID           string          `json:"sessionId"`
		UserAgent           string          `json:"userAgent"`
		Language            string          `json:"language"`
		VisitorName         string          `json:"visitorName"`
		ReceiveQueueUpdates looseBool       `json:"receiveQueueUpdates"`
		PrechatDetails      json.RawMessage `json:"prechatDetails"`
		PrechatEntities     json.RawMessage `json:"prechatEntities"`
	}
	if rsp := decodeObject(body, &in); rsp != nil {
		return rsp
	}
	for _, f := range []struct{ name, v string }{
		{"organizationId", in.OrganizationID}, {"deploymentId", in.DeploymentID}, {"buttonId", in.ButtonID},
	} {
		if f.v == "" {
			return validationError(f.name, f.name+" is required")
		}
	}
	if s.opts.OrgID != "" && in.OrganizationID != s.opts.OrgID {
		return validationError("organizationId", "unknown organization")
	}
	if s.opts.DeploymentID != "" && in.DeploymentID != s.opts.DeploymentID {
		return validationError("deploymentId", "unknown deployment")
	}
	if c.state != StateCreated {
		return okResp // a second ChasitorInit for the same session is ignored
	}
	c.init = &initInfo{
		OrganizationID:      in.OrganizationID,
		DeploymentID:        in.DeploymentID,
		ButtonID:            in.ButtonID,
		SessionID:           in.SessionID,
		VisitorName:         in.VisitorName,
		Language:            in.Language,
		UserAgent:           in.UserAgent,
		ReceiveQueueUpdates: in.ReceiveQueueUpdates.v,
		PrechatDetails:      compactRaw(in.PrechatDetails),
		PrechatEntities:     compactRaw(in.PrechatEntities),
		Body:                compactRaw(body),
	}
	if !s.isOnline(in.ButtonID) {
		s.queue(c, "ChatRequestFail", chatRequestFail{Reason: "Unavailable", AttachedRecords: []any{}})
		s.end(c, StateEnded, EndedBySystem, "Unavailable", true)
		return okResp
	}
	c.state = StateQueued
	c.queuePosition = s.queuedCount()
	s.queue(c, "ChatRequestSuccess", chatRequestSuccess{
		ConnectionTimeout:     150000,
		EstimatedWaitTime:     15 * c.queuePosition,
		SensitiveDataRules:    []any{},
		TranscriptSaveEnabled: false,
		URL:                   "",
		QueuePosition:         c.queuePosition,
		CustomDetails:         customDetails(in.PrechatDetails),
		VisitorID:             simkit.RandomUUID(),
		GeoLocation:           simGeo,
	})
	if s.opts.AutoAccept > 0 {
		c.autoAcceptAt = s.opts.Now().Add(s.opts.AutoAccept)
		s.life.Wake()
	}
	s.opts.Logger.Info("chat requested", "chat", c.id, "visitor", in.VisitorName, "button", in.ButtonID)
	return okResp
}

// compactRaw compacts a raw JSON value; empty, invalid and null give nil.
func compactRaw(b json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if len(bytes.TrimSpace(b)) == 0 || json.Compact(&buf, b) != nil || buf.String() == "null" {
		return nil
	}
	return buf.Bytes()
}

func customDetails(raw json.RawMessage) json.RawMessage {
	if c := compactRaw(raw); c != nil && c[0] == '[' {
		return c
	}
	return json.RawMessage("[]")
}

func (s *Sim) applyChatMessage(c *chat, body []byte) *resp {
	var in struct {
		Text *string `json:"text"`
	}
	if rsp := decodeObject(body, &in); rsp != nil {
		return rsp
	}
	if !c.everEstablished {
		c.counters.Errors500++
		return plainResp(http.StatusInternalServerError, notEstablishedBody)
	}
	text := ""
	if in.Text != nil {
		text = *in.Text
	}
	c.counters.VisitorMessages++
	c.visitorTyping = false
	c.sneakPeek = ""
	s.addTranscript(c, TranscriptChasitor, c.visitorName(), text)
	s.notify(EventVisitorMessage, c, text)
	if s.opts.AutoReply && c.state == StateEstablished {
		s.agentSend(c, "Echo: "+text)
	}
	return okResp
}

func (s *Sim) applyTyping(c *chat, body []byte) *resp {
	if rsp := decodeObject(body, &struct{}{}); rsp != nil {
		return rsp
	}
	c.visitorTyping = true
	c.counters.ChasitorTypings++
	return okResp
}

func (s *Sim) applyNotTyping(c *chat, body []byte) *resp {
	if rsp := decodeObject(body, &struct{}{}); rsp != nil {
		return rsp
	}
	c.visitorTyping = false
	c.counters.ChasitorNoTyping++
	return okResp
}

func (s *Sim) applySneakPeek(c *chat, body []byte) *resp {
	var in struct {
		Position int    `json:"position"`
		Text     string `json:"text"`
	}
	if rsp := decodeObject(body, &in); rsp != nil {
		return rsp
	}
	c.sneakPeek = in.Text
	return okResp
}

func (s *Sim) applyCustomEvent(c *chat, body []byte) *resp {
	var in CustomEventView
	if rsp := decodeObject(body, &in); rsp != nil {
		return rsp
	}
	if in.Type == "" {
		return validationError("type", "type is required")
	}
	c.customEvents = append(c.customEvents, in)
	return okResp
}

func (s *Sim) applyChatEnd(c *chat, body []byte) *resp {
	var in struct {
		Reason string `json:"reason"`
	}
	if rsp := decodeObject(body, &in); rsp != nil {
		return rsp
	}
	if in.Reason == "" {
		in.Reason = "client"
	}
	s.end(c, StateEnded, EndedByVisitor, in.Reason, false)
	return okResp
}

func (s *Sim) applyIdleWarning(c *chat, body []byte) *resp {
	var in struct {
		Event string `json:"idleTimeoutWarningEvent"`
	}
	if rsp := decodeObject(body, &in); rsp != nil {
		return rsp
	}
	if in.Event != "triggered" && in.Event != "cleared" {
		return validationError("idleTimeoutWarningEvent", `idleTimeoutWarningEvent must be "triggered" or "cleared"`)
	}
	return okResp
}

func (s *Sim) applyResync(c *chat, body []byte) *resp {
	var in struct {
		OrganizationID string `json:"organizationId"`
	}
	if rsp := decodeObject(body, &in); rsp != nil {
		return rsp
	}
	if in.OrganizationID == "" {
		return validationError("organizationId", "organizationId is required")
	}
	if c.init != nil && in.OrganizationID != c.init.OrganizationID {
		return validationError("organizationId", "organizationId does not match the chat")
	}
	c.counters.Resyncs++
	return okResp
}

// sessionData is the ChasitorSessionData payload sent first after a reconnect.
func (s *Sim) sessionData(c *chat) chasitorSessionData {
	msgs := make([]TranscriptEntry, len(c.transcript))
	copy(msgs, c.transcript)
	return chasitorSessionData{
		QueuePosition:    c.queuePosition,
		GeoLocation:      simGeo,
		URL:              "",
		Oref:             "",
		PostChatURL:      "",
		SneakPeekEnabled: false,
		ChatMessages:     msgs,
	}
}
