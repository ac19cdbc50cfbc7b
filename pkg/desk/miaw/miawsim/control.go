package miawsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// controlRoutes registers the agent control API (api/miaw-sim.yaml).
func (s *Sim) controlRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /control/conversations", s.ctlList)
	m.HandleFunc("GET /control/conversations/{id}", s.ctlGet)
	m.HandleFunc("POST /control/conversations/{id}/accept", s.ctlAccept)
	m.HandleFunc("POST /control/conversations/{id}/messages", s.ctlSend)
	m.HandleFunc("POST /control/conversations/{id}/typing", s.ctlTyping)
	m.HandleFunc("POST /control/conversations/{id}/transfer", s.ctlTransfer)
	m.HandleFunc("POST /control/conversations/{id}/leave", s.action(s.Leave))
	m.HandleFunc("POST /control/conversations/{id}/end", s.action(s.EndSession))
	m.HandleFunc("POST /control/conversations/{id}/fail", s.ctlFail)
	m.HandleFunc("POST /control/conversations/{id}/queue", s.ctlQueue)
	m.HandleFunc("POST /control/conversations/{id}/drop-streams", s.action(s.DropStreams))
	m.HandleFunc("POST /control/conversations/{id}/replay", s.ctlReplay)
	m.HandleFunc("POST /control/conversations/{id}/raw-events", s.ctlRaw)
	m.HandleFunc("POST /control/streams/drop", s.ctlDropAll)
	m.HandleFunc("POST /control/tokens/expire", s.ctlExpire)
	m.HandleFunc("GET /control/faults", s.ctlFaults)
	m.HandleFunc("POST /control/faults", s.ctlInjectFault)
	m.HandleFunc("DELETE /control/faults", s.ctlClearFaults)
	m.HandleFunc("GET /control/stats", s.ctlStats)
	m.HandleFunc("GET /control/settings", s.ctlGetSettings)
	m.HandleFunc("PATCH /control/settings", s.ctlPatchSettings)
	m.HandleFunc("GET /control/events", s.handleEvents)
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNoConversation):
		status = http.StatusNotFound
	case errors.Is(err, ErrState):
		status = http.StatusConflict
	case errors.Is(err, ErrInvalid):
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// decodeControl decodes an optional JSON body (empty = zero value).
func decodeControl(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: bad JSON body: %v", ErrInvalid, err)
	}
	return nil
}

// respond answers with the conversation's snapshot, or the error.
func (s *Sim) respond(w http.ResponseWriter, id string, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := s.Conversation(id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Sim) action(fn func(id string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.respond(w, id, fn(id))
	}
}

// withBody decodes the body into in, then runs fn.
func withBody[T any](s *Sim, fn func(id string, in T) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in T
		id := r.PathValue("id")
		if err := decodeControl(r, &in); err != nil {
			writeError(w, err)
			return
		}
		s.respond(w, id, fn(id, in))
	}
}

func (s *Sim) ctlList(w http.ResponseWriter, r *http.Request) {
	convs := s.Conversations()
	if st := r.URL.Query().Get("state"); st != "" {
		out := convs[:0]
		for _, c := range convs {
			if string(c.State) == st {
				out = append(out, c)
			}
		}
		convs = out
	}
	writeJSON(w, http.StatusOK, map[string]any{"conversations": convs})
}

func (s *Sim) ctlGet(w http.ResponseWriter, r *http.Request) { s.respond(w, r.PathValue("id"), nil) }

func (s *Sim) ctlAccept(w http.ResponseWriter, r *http.Request) {
	withBody(s, func(id string, in struct {
		AgentName string `json:"agentName"`
	}) error {
		return s.AcceptAs(id, in.AgentName)
	})(w, r)
}

func (s *Sim) ctlSend(w http.ResponseWriter, r *http.Request) {
	withBody(s, func(id string, in struct {
		Text *string `json:"text"`
	}) error {
		if in.Text == nil {
			return fmt.Errorf("%w: text is required", ErrInvalid)
		}
		return s.AgentSend(id, *in.Text)
	})(w, r)
}

func (s *Sim) ctlTyping(w http.ResponseWriter, r *http.Request) {
	withBody(s, func(id string, in struct {
		Typing *bool `json:"typing"`
	}) error {
		return s.AgentTyping(id, in.Typing == nil || *in.Typing)
	})(w, r)
}

func (s *Sim) ctlTransfer(w http.ResponseWriter, r *http.Request) {
	withBody(s, func(id string, in struct {
		AgentName string `json:"agentName"`
	}) error {
		return s.Transfer(id, in.AgentName)
	})(w, r)
}

func (s *Sim) ctlFail(w http.ResponseWriter, r *http.Request) {
	withBody(s, func(id string, in struct {
		FailureType string `json:"failureType"`
		Reason      string `json:"reason"`
	}) error {
		return s.FailRouting(id, in.FailureType, in.Reason)
	})(w, r)
}

func (s *Sim) ctlQueue(w http.ResponseWriter, r *http.Request) {
	withBody(s, func(id string, in struct {
		Position          *int `json:"position"`
		EstimatedWaitTime *int `json:"estimatedWaitTime"`
	}) error {
		if in.Position == nil {
			return fmt.Errorf("%w: position is required", ErrInvalid)
		}
		wait := -1
		if in.EstimatedWaitTime != nil {
			wait = *in.EstimatedWaitTime
		}
		return s.SetQueuePosition(id, *in.Position, wait)
	})(w, r)
}

func (s *Sim) ctlReplay(w http.ResponseWriter, r *http.Request) {
	withBody(s, func(id string, in struct {
		Count int  `json:"count"`
		Drop  bool `json:"drop"`
	}) error {
		if in.Count == 0 {
			in.Count = 10
		}
		if err := s.ReplayOnReconnect(id, in.Count); err != nil {
			return err
		}
		if in.Drop {
			return s.DropStreams(id)
		}
		return nil
	})(w, r)
}

func (s *Sim) ctlRaw(w http.ResponseWriter, r *http.Request) {
	withBody(s, s.SendRawEvent)(w, r)
}

func (s *Sim) ctlDropAll(w http.ResponseWriter, r *http.Request) {
	_ = s.DropStreams("")
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Sim) ctlExpire(w http.ResponseWriter, r *http.Request) {
	s.ExpireTokens()
	writeJSON(w, http.StatusOK, s.Stats())
}

func (s *Sim) ctlFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"faults": s.Faults()})
}

func (s *Sim) ctlInjectFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := decodeControl(r, &f); err != nil {
		writeError(w, err)
		return
	}
	if err := s.InjectFault(f); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"faults": s.Faults()})
}

func (s *Sim) ctlClearFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	writeJSON(w, http.StatusOK, map[string]any{"faults": []Fault{}})
}

func (s *Sim) ctlStats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Stats())
}

// settingsJSON is the wire form of Settings; durations are Go duration strings ("200ms").
type settingsJSON struct {
	TokenLifetime     string `json:"tokenLifetime"`
	HeartbeatInterval string `json:"heartbeatInterval"`
	AutoAccept        string `json:"autoAccept"`
	AutoReply         bool   `json:"autoReply"`
}

func (s *Sim) ctlGetSettings(w http.ResponseWriter, r *http.Request) {
	st := s.Settings()
	writeJSON(w, http.StatusOK, settingsJSON{st.TokenLifetime.String(), st.HeartbeatInterval.String(), st.AutoAccept.String(), st.AutoReply})
}

func (s *Sim) ctlPatchSettings(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TokenLifetime     json.RawMessage `json:"tokenLifetime"`
		HeartbeatInterval json.RawMessage `json:"heartbeatInterval"`
		AutoAccept        json.RawMessage `json:"autoAccept"`
		AutoReply         *bool           `json:"autoReply"`
	}
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	tl, err1 := parseDurationJSON(in.TokenLifetime)
	hb, err2 := parseDurationJSON(in.HeartbeatInterval)
	aa, err3 := parseDurationJSON(in.AutoAccept)
	if err := errors.Join(err1, err2, err3); err != nil {
		writeError(w, err)
		return
	}
	if tl < 0 || hb < 0 {
		writeError(w, fmt.Errorf("%w: durations must be positive", ErrInvalid))
		return
	}
	if in.AutoAccept != nil && aa == 0 {
		aa = -1 // explicit "0s": off
	}
	s.UpdateSettings(tl, hb, aa, in.AutoReply)
	s.wakeScheduler()
	s.ctlGetSettings(w, r)
}

// parseDurationJSON accepts a Go duration string ("1.5s") or a number of milliseconds.
func parseDurationJSON(raw json.RawMessage) (time.Duration, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	if raw[0] == '"' {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		d, err := time.ParseDuration(strings.TrimSpace(str))
		if err != nil {
			return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		return d, nil
	}
	ms, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return 0, fmt.Errorf("%w: duration must be a string like \"30s\" or milliseconds", ErrInvalid)
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}
