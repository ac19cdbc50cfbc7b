package lasim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
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
	agent := simkit.NewAgentHandlers(s.chatsAPI, s)
	return []route{
		{"GET /control/chats", s.ctlListChats},
		{"GET /control/chats/{id}", s.ctlGetChat},
		{"POST /control/chats/{id}/accept", agent.Accept},
		{"POST /control/chats/{id}/messages", agent.Send},
		{"POST /control/chats/{id}/typing", agent.Typing},
		{"POST /control/chats/{id}/queue", agent.Queue},
		{"POST /control/chats/{id}/transfer", agent.Transfer},
		{"POST /control/chats/{id}/disconnect", s.chatsAPI.Action(s.Disconnect)},
		{"POST /control/chats/{id}/end", s.chatsAPI.Action(s.End)},
		{"POST /control/chats/{id}/fail", s.ctlFail},
		{"POST /control/chats/{id}/expire", s.chatsAPI.Action(s.Expire)},
		{"POST /control/chats/{id}/custom-events", s.ctlCustomEvent},
		{"POST /control/chats/{id}/file-requests", s.ctlRequestFile},
		{"DELETE /control/chats/{id}/file-requests/{token}", s.ctlCancelFile},
		{"GET /control/chats/{id}/files/{index}", s.ctlGetFile},
		{"GET /control/faults", s.faults.HandleList},
		{"POST /control/faults", s.faults.HandleAdd},
		{"DELETE /control/faults", s.faults.HandleClear},
		{"GET /control/settings", s.ctlGetSettings},
		{"PATCH /control/settings", s.ctlPatchSettings},
		{"GET /control/availability", s.ctlGetAvailability},
		{"PUT /control/availability", s.ctlPutAvailability},
		{"GET /control/requests", s.ctlRequests},
		{"GET /control/events", s.handleEvents},
	}
}

// api handles the errors and bodies of the control API.
var api = &simkit.API{
	Invalid: ErrInvalid,
	Errors: []simkit.ErrorStatus{
		{Err: ErrNoChat, Status: http.StatusNotFound},
		{Err: ErrState, Status: http.StatusConflict},
		{Err: ErrInvalid, Status: http.StatusBadRequest},
	},
}

func (s *Sim) ctlListChats(w http.ResponseWriter, r *http.Request) {
	chats := s.Chats()
	if st := r.URL.Query().Get("state"); st != "" {
		chats = slices.DeleteFunc(chats, func(c ChatView) bool { return string(c.State) != st })
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"chats": chats})
}

func (s *Sim) ctlGetChat(w http.ResponseWriter, r *http.Request) {
	s.chatsAPI.Respond(w, r.PathValue("id"), nil)
}

func (s *Sim) ctlFail(w http.ResponseWriter, r *http.Request) {
	simkit.WithBody(s.chatsAPI, func(id string, in struct {
		Reason string `json:"reason"`
	}) error {
		return s.Fail(id, in.Reason)
	})(w, r)
}

func (s *Sim) ctlCustomEvent(w http.ResponseWriter, r *http.Request) {
	simkit.WithBody(s.chatsAPI, func(id string, in CustomEventView) error {
		return s.SendCustomEvent(id, in.Type, in.Data)
	})(w, r)
}

func (s *Sim) ctlRequestFile(w http.ResponseWriter, r *http.Request) {
	fr, err := s.RequestFile(r.PathValue("id"))
	if err != nil {
		api.Error(w, err)
		return
	}
	simkit.WriteJSON(w, http.StatusCreated, fr)
}

func (s *Sim) ctlCancelFile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.chatsAPI.Respond(w, id, s.CancelFile(id, r.PathValue("token")))
}

func (s *Sim) ctlGetFile(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.Atoi(r.PathValue("index"))
	if err != nil {
		api.Error(w, fmt.Errorf("%w: bad file index", ErrInvalid))
		return
	}
	f, data, err := s.File(r.PathValue("id"), idx)
	if err != nil {
		api.Error(w, err)
		return
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.Name))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(data)
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
	simkit.WriteJSON(w, http.StatusOK, settingsJSON{
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
	if err := api.Decode(r, &in); err != nil {
		api.Error(w, err)
		return
	}
	hold, err1 := api.Duration(in.HoldTime)
	poll, err2 := api.Duration(in.ClientPollTimeout)
	auto, err3 := api.Duration(in.AutoAccept)
	if err := errors.Join(err1, err2, err3); err != nil {
		api.Error(w, err)
		return
	}
	if hold < 0 || poll < 0 {
		api.Error(w, fmt.Errorf("%w: durations must be positive", ErrInvalid))
		return
	}
	if in.AutoAccept != nil && auto == 0 {
		auto = -1 // explicit "0s": off
	}
	s.UpdateSettings(hold, poll, auto, in.AutoReply, in.ExpiredPolls)
	s.ctlGetSettings(w, r)
}

func (s *Sim) ctlGetAvailability(w http.ResponseWriter, r *http.Request) {
	av := s.Availability()
	buttons := make(map[string]bool, len(av))
	for k, v := range av {
		if k != "" {
			buttons[k] = v
		}
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"online": av[""], "buttons": buttons})
}

func (s *Sim) ctlPutAvailability(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ButtonID string `json:"buttonId"`
		Online   *bool  `json:"online"`
	}
	if err := api.Decode(r, &in); err != nil {
		api.Error(w, err)
		return
	}
	if in.Online == nil {
		api.Error(w, fmt.Errorf("%w: online is required", ErrInvalid))
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
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"requests": reqs})
}
