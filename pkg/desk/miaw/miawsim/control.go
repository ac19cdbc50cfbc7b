package miawsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/line-sf-bridge/bridge/pkg/desk/simkit"
)

// controlRoutes registers the agent control API (api/miaw-sim.yaml).
func (s *Sim) controlRoutes(m *http.ServeMux) {
	agent := simkit.NewAgentHandlers(s.convsAPI, s)
	m.HandleFunc("GET /control/conversations", s.ctlList)
	m.HandleFunc("GET /control/conversations/{id}", s.ctlGet)
	m.HandleFunc("POST /control/conversations/{id}/accept", agent.Accept)
	m.HandleFunc("POST /control/conversations/{id}/messages", agent.Send)
	m.HandleFunc("POST /control/conversations/{id}/typing", agent.Typing)
	m.HandleFunc("POST /control/conversations/{id}/transfer", agent.Transfer)
	m.HandleFunc("POST /control/conversations/{id}/leave", s.convsAPI.Action(s.Leave))
	m.HandleFunc("POST /control/conversations/{id}/end", s.convsAPI.Action(s.EndSession))
	m.HandleFunc("POST /control/conversations/{id}/fail", s.ctlFail)
	m.HandleFunc("POST /control/conversations/{id}/queue", agent.Queue)
	m.HandleFunc("POST /control/conversations/{id}/drop-streams", s.convsAPI.Action(s.DropStreams))
	m.HandleFunc("POST /control/conversations/{id}/replay", s.ctlReplay)
	m.HandleFunc("POST /control/conversations/{id}/raw-events", s.ctlRaw)
	m.HandleFunc("POST /control/streams/drop", s.ctlDropAll)
	m.HandleFunc("POST /control/tokens/expire", s.ctlExpire)
	m.HandleFunc("GET /control/faults", s.faults.HandleList)
	m.HandleFunc("POST /control/faults", s.faults.HandleAdd)
	m.HandleFunc("DELETE /control/faults", s.faults.HandleClear)
	m.HandleFunc("GET /control/stats", s.ctlStats)
	m.HandleFunc("GET /control/settings", s.ctlGetSettings)
	m.HandleFunc("PATCH /control/settings", s.ctlPatchSettings)
	m.HandleFunc("GET /control/events", s.handleEvents)
}

// api handles the errors and bodies of the control API.
var api = &simkit.API{
	Invalid: ErrInvalid,
	Errors: []simkit.ErrorStatus{
		{Err: ErrNoConversation, Status: http.StatusNotFound},
		{Err: ErrState, Status: http.StatusConflict},
		{Err: ErrInvalid, Status: http.StatusBadRequest},
	},
}

func (s *Sim) ctlList(w http.ResponseWriter, r *http.Request) {
	convs := s.Conversations()
	if st := r.URL.Query().Get("state"); st != "" {
		convs = slices.DeleteFunc(convs, func(c ConversationView) bool { return string(c.State) != st })
	}
	simkit.WriteJSON(w, http.StatusOK, map[string]any{"conversations": convs})
}

func (s *Sim) ctlGet(w http.ResponseWriter, r *http.Request) {
	s.convsAPI.Respond(w, r.PathValue("id"), nil)
}

func (s *Sim) ctlFail(w http.ResponseWriter, r *http.Request) {
	simkit.WithBody(s.convsAPI, func(id string, in struct {
		FailureType string `json:"failureType"`
		Reason      string `json:"reason"`
	}) error {
		return s.FailRouting(id, in.FailureType, in.Reason)
	})(w, r)
}

func (s *Sim) ctlReplay(w http.ResponseWriter, r *http.Request) {
	simkit.WithBody(s.convsAPI, func(id string, in struct {
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
	simkit.WithBody(s.convsAPI, s.SendRawEvent)(w, r)
}

func (s *Sim) ctlDropAll(w http.ResponseWriter, r *http.Request) {
	_ = s.DropStreams("")
	simkit.WriteJSON(w, http.StatusOK, s.Stats())
}

func (s *Sim) ctlExpire(w http.ResponseWriter, r *http.Request) {
	s.ExpireTokens()
	simkit.WriteJSON(w, http.StatusOK, s.Stats())
}

func (s *Sim) ctlStats(w http.ResponseWriter, r *http.Request) {
	simkit.WriteJSON(w, http.StatusOK, s.Stats())
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
	simkit.WriteJSON(w, http.StatusOK, settingsJSON{st.TokenLifetime.String(), st.HeartbeatInterval.String(), st.AutoAccept.String(), st.AutoReply})
}

func (s *Sim) ctlPatchSettings(w http.ResponseWriter, r *http.Request) {
	var in struct {
		TokenLifetime     json.RawMessage `json:"tokenLifetime"`
		HeartbeatInterval json.RawMessage `json:"heartbeatInterval"`
		AutoAccept        json.RawMessage `json:"autoAccept"`
		AutoReply         *bool           `json:"autoReply"`
	}
	if err := api.Decode(r, &in); err != nil {
		api.Error(w, err)
		return
	}
	tl, err1 := api.Duration(in.TokenLifetime)
	hb, err2 := api.Duration(in.HeartbeatInterval)
	aa, err3 := api.Duration(in.AutoAccept)
	if err := errors.Join(err1, err2, err3); err != nil {
		api.Error(w, err)
		return
	}
	if tl < 0 || hb < 0 {
		api.Error(w, fmt.Errorf("%w: durations must be positive", ErrInvalid))
		return
	}
	if in.AutoAccept != nil && aa == 0 {
		aa = -1 // explicit "0s": off
	}
	s.UpdateSettings(tl, hb, aa, in.AutoReply)
	s.life.Wake()
	s.ctlGetSettings(w, r)
}
