package lasim

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

// controlRoutes registers the agent control API (api/liveagent-sim.yaml).
func (s *Sim) controlRoutes(m *http.ServeMux) {
	for _, r := range s.controlRouteTable() {
		m.HandleFunc(r.pattern, r.h)
	}
}

type route struct {
	pattern string
	h       http.HandlerFunc
}

func (s *Sim) controlRouteTable() []route {
	return []route{
		{"GET /control/chats", s.ctlListChats},
		{"GET /control/chats/{id}", s.ctlGetChat},
		{"POST /control/chats/{id}/accept", s.ctlAccept},
		{"POST /control/chats/{id}/messages", s.ctlSend},
		{"POST /control/chats/{id}/typing", s.ctlTyping},
		{"POST /control/chats/{id}/queue", s.ctlQueue},
		{"POST /control/chats/{id}/transfer", s.ctlTransfer},
		{"POST /control/chats/{id}/disconnect", s.chatAction(s.Disconnect)},
		{"POST /control/chats/{id}/end", s.chatAction(s.End)},
		{"POST /control/chats/{id}/fail", s.ctlFail},
		{"POST /control/chats/{id}/expire", s.chatAction(s.Expire)},
		{"POST /control/chats/{id}/custom-events", s.ctlCustomEvent},
		{"POST /control/chats/{id}/file-requests", s.ctlRequestFile},
		{"DELETE /control/chats/{id}/file-requests/{token}", s.ctlCancelFile},
		{"GET /control/chats/{id}/files/{index}", s.ctlGetFile},
		{"GET /control/faults", s.ctlListFaults},
		{"POST /control/faults", s.ctlInjectFault},
		{"DELETE /control/faults", s.ctlClearFaults},
		{"GET /control/settings", s.ctlGetSettings},
		{"PATCH /control/settings", s.ctlPatchSettings},
		{"GET /control/availability", s.ctlGetAvailability},
		{"PUT /control/availability", s.ctlPutAvailability},
		{"GET /control/requests", s.ctlRequests},
		{"GET /control/events", s.handleEvents},
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNoChat):
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

// respondChat answers with the chat's snapshot, or the error.
func (s *Sim) respondChat(w http.ResponseWriter, id string, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := s.Chat(id)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Sim) chatAction(fn func(id string) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		s.respondChat(w, id, fn(id))
	}
}

func (s *Sim) ctlListChats(w http.ResponseWriter, r *http.Request) {
	chats := s.Chats()
	if st := r.URL.Query().Get("state"); st != "" {
		out := chats[:0]
		for _, c := range chats {
			if string(c.State) == st {
				out = append(out, c)
			}
		}
		chats = out
	}
	writeJSON(w, http.StatusOK, map[string]any{"chats": chats})
}

func (s *Sim) ctlGetChat(w http.ResponseWriter, r *http.Request) {
	s.respondChat(w, r.PathValue("id"), nil)
}

func (s *Sim) ctlAccept(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AgentName string `json:"agentName"`
	}
	id := r.PathValue("id")
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	s.respondChat(w, id, s.AcceptAs(id, in.AgentName))
}

func (s *Sim) ctlSend(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Text *string `json:"text"`
	}
	id := r.PathValue("id")
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Text == nil {
		writeError(w, fmt.Errorf("%w: text is required", ErrInvalid))
		return
	}
	s.respondChat(w, id, s.AgentSend(id, *in.Text))
}

func (s *Sim) ctlTyping(w http.ResponseWriter, r *http.Request) {
	in := struct {
		Typing *bool `json:"typing"`
	}{}
	id := r.PathValue("id")
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	typing := in.Typing == nil || *in.Typing
	s.respondChat(w, id, s.AgentTyping(id, typing))
}

func (s *Sim) ctlQueue(w http.ResponseWriter, r *http.Request) {
	in := struct {
		Position          *int `json:"position"`
		EstimatedWaitTime *int `json:"estimatedWaitTime"`
	}{}
	id := r.PathValue("id")
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Position == nil {
		writeError(w, fmt.Errorf("%w: position is required", ErrInvalid))
		return
	}
	wait := -1
	if in.EstimatedWaitTime != nil {
		wait = *in.EstimatedWaitTime
	}
	s.respondChat(w, id, s.SetQueuePosition(id, *in.Position, wait))
}

func (s *Sim) ctlTransfer(w http.ResponseWriter, r *http.Request) {
	var in struct {
		AgentName string `json:"agentName"`
	}
	id := r.PathValue("id")
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	s.respondChat(w, id, s.Transfer(id, in.AgentName))
}

func (s *Sim) ctlFail(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Reason string `json:"reason"`
	}
	id := r.PathValue("id")
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	s.respondChat(w, id, s.Fail(id, in.Reason))
}

func (s *Sim) ctlCustomEvent(w http.ResponseWriter, r *http.Request) {
	var in CustomEventView
	id := r.PathValue("id")
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	s.respondChat(w, id, s.SendCustomEvent(id, in.Type, in.Data))
}

func (s *Sim) ctlRequestFile(w http.ResponseWriter, r *http.Request) {
	fr, err := s.RequestFile(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, fr)
}

func (s *Sim) ctlCancelFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.respondChat(w, id, s.CancelFile(id, r.PathValue("token")))
}

func (s *Sim) ctlGetFile(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		writeError(w, fmt.Errorf("%w: bad file index", ErrInvalid))
		return
	}
	f, data, err := s.File(r.PathValue("id"), idx)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.Name))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(data)
}

func (s *Sim) ctlListFaults(w http.ResponseWriter, r *http.Request) {
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

// settingsJSON is the wire form of Settings; durations are Go duration strings ("200ms").
type settingsJSON struct {
	HoldTime          string `json:"holdTime"`
	ClientPollTimeout string `json:"clientPollTimeout"`
	AutoAccept        string `json:"autoAccept"`
	AutoReply         bool   `json:"autoReply"`
	ExpiredPolls      int    `json:"expiredPolls"`
}

func (s *Sim) ctlGetSettings(w http.ResponseWriter, r *http.Request) {
	st := s.Settings()
	writeJSON(w, http.StatusOK, settingsJSON{
		HoldTime: st.HoldTime.String(), ClientPollTimeout: st.ClientPollTimeout.String(),
		AutoAccept: st.AutoAccept.String(), AutoReply: st.AutoReply, ExpiredPolls: st.ExpiredPolls,
	})
}

func (s *Sim) ctlPatchSettings(w http.ResponseWriter, r *http.Request) {
	var in struct {
		HoldTime          json.RawMessage `json:"holdTime"`
		ClientPollTimeout json.RawMessage `json:"clientPollTimeout"`
		AutoAccept        json.RawMessage `json:"autoAccept"`
		AutoReply         *bool           `json:"autoReply"`
		ExpiredPolls      *int            `json:"expiredPolls"`
	}
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	hold, err1 := parseDurationJSON(in.HoldTime)
	poll, err2 := parseDurationJSON(in.ClientPollTimeout)
	auto, err3 := parseDurationJSON(in.AutoAccept)
	if err := errors.Join(err1, err2, err3); err != nil {
		writeError(w, err)
		return
	}
	if hold < 0 || poll < 0 {
		writeError(w, fmt.Errorf("%w: durations must be positive", ErrInvalid))
		return
	}
	if in.AutoAccept != nil && auto == 0 {
		auto = -1 // explicit "0s": off
	}
	s.UpdateSettings(hold, poll, auto, in.AutoReply, in.ExpiredPolls)
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

func (s *Sim) ctlGetAvailability(w http.ResponseWriter, r *http.Request) {
	av := s.Availability()
	buttons := make(map[string]bool, len(av))
	for k, v := range av {
		if k != "" {
			buttons[k] = v
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"online": av[""], "buttons": buttons})
}

func (s *Sim) ctlPutAvailability(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ButtonID string `json:"buttonId"`
		Online   *bool  `json:"online"`
	}
	if err := decodeControl(r, &in); err != nil {
		writeError(w, err)
		return
	}
	if in.Online == nil {
		writeError(w, fmt.Errorf("%w: online is required", ErrInvalid))
		return
	}
	s.SetAvailability(in.ButtonID, *in.Online)
	s.ctlGetAvailability(w, r)
}

func (s *Sim) ctlRequests(w http.ResponseWriter, r *http.Request) {
	reqs := s.Requests()
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n >= 0 && n < len(reqs) {
		reqs = reqs[len(reqs)-n:]
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": reqs})
}
